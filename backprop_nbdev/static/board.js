// The playground's live view: paints what the kernel sends, on canvases (frames.js reads the
// frames, draw.js draws them; here they are wired to the page). Python bundles the three files into
// the widget's one module (board.page_module). anywidget >= 0.9: export default { render({model,
// el}) }.
import {addLosses, acker, bytes, floats, frameQueue, frameRate, series} from './frames.js';
import {nextMode} from './gap.js';
import {NET_H, atlasPixels, boundaryPixels, drawCurve, drawNetwork, drawPoints, netData, netHit,
        readoutText, themeOf} from './draw.js';
import {toolbar} from './points.js';

const IDLE = 10;   // animation frames without a new frame before the paint loop rests
const READOUT_MS = 100;   // while playing, the readout's text changes at most ten times a second

function canvas(cls, w, h) {
  const c = document.createElement('canvas');
  const dpr = window.devicePixelRatio || 1;
  c.className = cls;
  c.width = Math.round(w * dpr);
  c.height = Math.round(h * dpr);
  c.style.cssText = `width:${w}px;height:${h}px;display:block`;
  const ctx = c.getContext('2d');
  ctx.scale(dpr, dpr);
  return [c, ctx];
}

const div = (cls, css) => Object.assign(document.createElement('div'),
                                        {className: cls, style: css});

// The view's elements: the boundary with the points and the divergence banner over it, the loss
// plot, the readout and the page's own error line, then the network view with its toggle and
// tooltip.
function layout(el, size, cw) {
  // contain: a frame's paint relayouts the view alone, never the notebook around it
  const v = {root: div('bp-board', 'display:inline-flex;flex-direction:column;gap:4px;'
                       + 'contain:content')};
  v.root.style.color = 'var(--jp-ui-font-color1, inherit)';
  const plot = div('bp-plot', `position:relative;width:${size}px;height:${size}px`);
  const row = div('', 'display:flex;gap:12px;flex-wrap:wrap');
  [v.board, v.bctx] = canvas('bp-boundary', size, size);
  [v.dots, v.dctx] = canvas('bp-points', size, size);
  [v.curve, v.cctx] = canvas('bp-loss-plot', cw, size);
  v.dots.style.cssText += ';position:absolute;left:0;top:0';
  v.banner = div('bp-banner', 'position:absolute;left:0;right:0;top:40%;z-index:2;display:none;'
                 + 'text-align:center;padding:6px 0;font:bold 15px sans-serif;color:#b00;'
                 + 'background:rgba(255,255,255,0.9)');
  plot.append(v.board, v.dots, v.banner);
  row.append(plot, v.curve);
  v.readout = div('bp-readout', 'font-family:monospace;font-size:13px;min-height:1.4em');
  v.text = document.createTextNode('');   // the readout's one text node: a frame sets its data
  v.readout.append(v.text);
  v.error = div('bp-page-error', 'display:none;font:12px monospace;white-space:pre-wrap;'
                + 'color:var(--jp-error-color1, #b00)');
  const box = div('bp-network-box', `position:relative;width:${size + 12 + cw}px`);
  [v.network, v.nctx] = canvas('bp-network', size + 12 + cw, NET_H);
  v.toggle = Object.assign(document.createElement('button'), {className: 'bp-net-mode'});
  v.toggle.style.cssText = 'position:absolute;right:4px;top:0;font-size:11px';
  v.tip = div('bp-net-tip', 'position:absolute;display:none;padding:1px 4px;font:11px monospace;'
              + 'pointer-events:none;white-space:nowrap;border:1px solid #888;'
              + 'background:var(--jp-layout-color1, #fff);color:var(--jp-ui-font-color1, #000)');
  box.append(v.network, v.toggle, v.tip);
  v.root.append(row, v.readout, v.error, box);
  el.append(v.root);
  v.atlas = document.createElement('canvas');   // every unit's map side by side, drawn scaled
  v.actx = v.atlas.getContext('2d');
  return v;
}

// Paint one frame: boundary, banner, curves, network, readout.
function paintFrame(v, s, {f, buffers}, lut) {
  const n = f.n;
  if (!s.img || s.img.width !== n) {   // the canvas holds n×n pixels; CSS scales it to the square
    v.board.width = n;
    v.board.height = n;
    s.img = v.bctx.createImageData(n, n);
  }
  boundaryPixels(s.img, bytes(buffers[0]), n, lut);
  v.bctx.putImageData(s.img, 0, 0);
  v.banner.style.display = f.diverged != null ? 'block' : 'none';
  if (f.diverged != null) {
    v.banner.textContent = `diverged at epoch ${f.diverged.toLocaleString('en')}: `
      + 'lower the learning rate, then press Reset';
  }
  // the curves and the network change slowly: redrawn with the frames that carry the network
  s.curveStale = !f.net;
  if (f.net) drawCurve(v.cctx, v.cw, v.size, s.train, s.test, s.label, s.theme);
  if (f.net) paintNetwork(v, s, f, buffers, lut);
  writeReadout(v, s, f, false);
}

// The readout's text changes at most every READOUT_MS while frames stream in: sixty changes a
// second cannot be read, and each makes the browser style, lay out and paint text again. A frame
// that answers a change, or tells of a divergence, is written at once; so is the newest frame
// once no new one is waiting (painter), so the readout always ends on the frame on screen.
function writeReadout(v, s, f, now) {
  s.unwritten = f;
  const t = performance.now();
  if (!now && !f.fresh && f.diverged == null && t - s.writtenAt < READOUT_MS) return;
  v.text.data = readoutText(f);
  const colour = f.diverged != null ? 'var(--jp-error-color1, #b00)' : '';
  if (v.readout.style.color !== colour) v.readout.style.color = colour;
  s.writtenAt = t;
  s.unwritten = null;
}

function paintNetwork(v, s, f, buffers, lut) {
  const {maps, vals} = netData(f, buffers);
  const m = f.net.m;
  const units = maps.length / (m * m);
  if (v.atlas.width !== m * units || v.atlas.height !== m) {
    v.atlas.width = m * units;
    v.atlas.height = m;
  }
  if (!s.atlasImg || s.atlasImg.width !== m * units) {
    s.atlasImg = v.actx.createImageData(m * units, m);
  }
  atlasPixels(s.atlasImg, maps, units, m, lut);
  v.actx.putImageData(s.atlasImg, 0, 0);
  s.net = drawNetwork(v.nctx, v.atlas, v.size + 12 + v.cw, NET_H, f.net, vals, s.theme);
  if (v.network.dataset.mode !== f.net.mode) v.network.dataset.mode = f.net.mode;
  s.modes = f.net.modes;
}

// The paint loop: one frame per animation frame, the oldest of the (at most two) waiting; the loop
// rests after IDLE animation frames with nothing new. A paint that throws is shown, not fatal: the
// frame still counts as received (and was acknowledged if asked), so the kernel keeps going.
function painter(v, model, s) {
  let raf = 0;
  let idle = 0;
  const tick = (t) => {
    raf = 0;
    s.rate.tick(t);
    const item = s.queue.take();
    if (!item) {
      if (s.unwritten) writeReadout(v, s, s.unwritten, true);
      if (s.curveStale) drawCurve(v.cctx, v.cw, v.size, s.train, s.test, s.label, s.theme);
      s.curveStale = false;
      if (++idle < IDLE) raf = requestAnimationFrame(tick);
      else s.rate.reset();
      return;
    }
    idle = 0;
    s.last = item;
    paintOrShow(v, model, s, item);
    raf = requestAnimationFrame(tick);
  };
  return {wake: () => {
    if (!raf) raf = requestAnimationFrame(tick);
  }, stop: () => cancelAnimationFrame(raf)};
}

function paintOrShow(v, model, s, item) {
  const f = item.f;
  try {
    paintFrame(v, s, item, s.lut);
    v.error.style.display = 'none';
  } catch (e) {
    v.error.textContent = `the view could not paint epoch ${f.epoch}: ${e}`;
    v.error.style.display = 'block';
    if (!s.reported) model.send({type: 'error', text: String(e && e.stack || e)});
    s.reported = true;
  }
  s.ack.painted += 1;
  // for tests and benchmarks: when it was painted, how long it waited and was on its way
  const t = performance.now();
  const grads = f.net && f.net.mode === 'gradients' && s.net;
  v.root.dispatchEvent(new CustomEvent('bp-paint', {bubbles: true, detail: {
    seq: f.seq, epoch: f.epoch, lr: f.lr, loss: f.loss, dropped: s.queue.dropped, t,
    wait: t - item.at, transit: f.t ? performance.timeOrigin + item.at - f.t : null,
    heard: f.heard, sent: f.t,
    mode: f.net && f.net.mode, grad_max: grads ? s.net.top : null,
    received: s.ack.received, painted: s.ack.painted}}));
}

// Seen = on screen and in a visible tab: the kernel sends no frames to a view nobody can see.
function watchVisibility(root, send) {
  let inView = false;
  let seen = null;
  const tell = () => {
    const now = inView && !document.hidden;
    if (now !== seen) send({type: 'visible', value: now});
    seen = now;
  };
  const io = new IntersectionObserver((es) => {
    inView = es[es.length - 1].isIntersecting;
    tell();
  });
  io.observe(root);
  document.addEventListener('visibilitychange', tell);
  return () => {
    io.disconnect();
    document.removeEventListener('visibilitychange', tell);
  };
}

function hover(v, s) {
  v.network.addEventListener('mousemove', (e) => {
    const r = v.network.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const text = netHit(s.net, x, y);
    v.tip.style.display = text ? 'block' : 'none';
    if (!text) return;
    v.tip.textContent = text;
    v.tip.style.left = `${x + 12}px`;
    v.tip.style.top = `${y + 8}px`;
  });
  v.network.addEventListener('mouseleave', () => {
    v.tip.style.display = 'none';
  });
}

// A still picture saved with the notebook (for a page with no kernel) is hidden while the view
// lives.
function hideStill(el) {
  const area = el.closest('.jp-OutputArea, .output_area, .output');
  if (area) area.querySelectorAll('.bp-still').forEach((n) => n.classList.add('bp-still-hidden'));
}

function state(model, el) {
  return {train: series(), test: series(), queue: frameQueue(), rate: frameRate(),
          img: null, atlasImg: null, net: null, last: null, curveStale: false,
          unwritten: null, writtenAt: -Infinity,
          lut: bytes(model.get('lut')), label: model.get('label'), theme: themeOf(el)};
}

// The model's events: frames, the points, the loss's name, the wires' mode; and the theme's
// changes.
function listen(model, v, s, loop) {
  const onMsg = (msg, buffers) => {
    if (msg.type !== 'frame') return;
    addLosses(msg, buffers, s.train, s.test);
    if (msg.fresh) s.queue.clear();                 // it answers a change: no older frame first
    s.queue.put({f: msg, buffers, at: performance.now()});
    s.ack.arrived(msg);
    loop.wake();
  };
  const points = () => drawPoints(v.dctx, floats(model.get('points')), model.get('bounds'), v.size);
  const relabel = () => {
    s.label = model.get('label');
  };
  const showMode = () => {
    v.toggle.textContent = `wires: ${model.get('mode')} (switch)`;
    v.network.dataset.mode = model.get('mode');
  };
  const events = [['change:points', points], ['change:bounds', points], ['msg:custom', onMsg],
                  ['change:mode', showMode], ['change:label', relabel]];
  for (const [name, fn] of events) model.on(name, fn);
  const retheme = () => {
    s.theme = themeOf(v.root);
    if (s.last) s.queue.put(s.last);
    loop.wake();
  };
  // JupyterLab marks a new theme on <body>, and its style sheet may load a little later
  const themes = new MutationObserver(() => {
    retheme();
    setTimeout(retheme, 500);
  });
  themes.observe(document.body, {attributes: true});
  points();
  showMode();
  return () => {
    themes.disconnect();
    for (const [name, fn] of events) model.off(name, fn);
  };
}

function render({model, el}) {
  const id = Math.random().toString(36).slice(2);   // this view: the kernel tells views apart
  const send = (m) => model.send({view: id, ...m});
  const v = Object.assign(layout(el, model.get('size'), model.get('curve_width')),
                          {size: model.get('size'), cw: model.get('curve_width')});
  const s = state(model, v.root);
  s.ack = acker(send, s.rate);
  const loop = painter(v, model, s);
  // the toggle only sets the mode; the kernel sends the gradients with the next frame
  v.toggle.onclick = () => {
    model.set('mode', nextMode(model.get('mode'), s.modes));
    model.save_changes();
  };
  const unlisten = listen(model, v, s, loop);
  const unwatch = watchVisibility(v.root, send);
  const bye = () => send({type: 'bye'});            // a reloaded or closed page says so too
  window.addEventListener('pagehide', bye);
  hover(v, s);
  toolbar(v, model, send, () => floats(model.get('points')));
  drawCurve(v.cctx, v.cw, v.size, s.train, s.test, s.label, s.theme);
  requestAnimationFrame(() => hideStill(el));       // once the view is in the page
  send({type: 'hello'});                            // the kernel answers with the current frame
  return () => {                                    // the view is gone: stop listening, and say so
    unlisten();
    unwatch();
    window.removeEventListener('pagehide', bye);
    loop.stop();
    bye();
  };
}

export default { render };
