// The playground's live view: draws what the kernel sends, on canvases, and tells the kernel when each frame
// is on screen so that it never runs more than a few frames ahead (see the protocol in the Board class).
// anywidget >= 0.9: export default { render({model, el}) }.

const CAP = 2000;                          // most points kept per loss series; past it, every other one is dropped
const NUDGES = 6;                          // animation frames (~0.1 s) after the last frame that still send an ack
const COLOURS = {train: '#1f77b4', test: '#ff7f0e', 0: '#1f77b4', 1: '#d62728'};
const M = {left: 46, right: 10, top: 22, bottom: 26};   // loss plot margins, room for the tick labels
const bytes = (dv) => new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
// copies, because a Float32Array or Float64Array needs an aligned offset, which a message buffer need not have
const copy = (dv) => dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength);
const floats = (dv) => new Float32Array(copy(dv)), doubles = (dv) => new Float64Array(copy(dv));

// A loss series in bounded memory: keeps every `stride`-th point pushed, and when it holds more than CAP,
// drops every other one and doubles `stride`. The newest point is always drawn (`tail`), kept or not.
// The kernel keeps the same series (Series in Python) to send a view that opens later.
function series() {
  const s = {};
  s.clear = () => Object.assign(s, {x: [], v: [], n: 0, stride: 1, tail: null});
  s.push = (x, v) => {
    s.tail = [x, v];
    if (s.n++ % s.stride === 0) { s.x.push(x); s.v.push(v); }
    if (s.x.length > CAP) {
      s.stride *= 2;
      s.x = s.x.filter((_, k) => k % 2 === 0); s.v = s.v.filter((_, k) => k % 2 === 0);
    }
  };
  s.points = () => {
    const x = s.x.slice(), v = s.v.slice();
    if (s.tail && s.tail[0] !== x[x.length - 1]) { x.push(s.tail[0]); v.push(s.tail[1]); }
    return [x, v];
  };
  return s.clear();
}

// Colour ŷ through the LUT into `img` (n×n RGBA), y upwards, and blacken the ŷ = 0.5 contour:
// a pixel is on it when it lies on the other side of 0.5 from its left or upper neighbour.
function boundaryPixels(img, yhat, n, lut) {
  const px = img.data;
  for (let r = 0; r < n; r++) {           // r: image row, top first; data row n-1-r (data rows go up in y)
    const row = (n - 1 - r) * n, up = (n - r) * n;
    for (let c = 0; c < n; c++) {
      const v = yhat[row + c], o = 4 * (r * n + c), above = v >= 128;
      const edge = (c > 0 && (yhat[row + c - 1] >= 128) !== above) || (r > 0 && (yhat[up + c] >= 128) !== above);
      px[o] = edge ? 0 : lut[3 * v]; px[o + 1] = edge ? 0 : lut[3 * v + 1]; px[o + 2] = edge ? 0 : lut[3 * v + 2];
      px[o + 3] = 255;
    }
  }
}

function canvas(cls, w, h) {
  const c = document.createElement('canvas'), dpr = window.devicePixelRatio || 1;
  c.className = cls; c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
  c.style.cssText = `width:${w}px;height:${h}px;display:block`;
  const ctx = c.getContext('2d'); ctx.scale(dpr, dpr);
  return [c, ctx];
}

function drawPoints(ctx, model, size) {
  const d = model.get('points'), [x0, x1, y0, y1] = model.get('bounds');
  ctx.clearRect(0, 0, size, size);
  if (!d || !d.byteLength) return;
  const p = floats(d), r = p.length / 3 <= 20 ? 9 : 3;
  ctx.lineWidth = 2; ctx.strokeStyle = 'black';
  for (let k = 0; k < p.length; k += 3) {
    ctx.beginPath();
    ctx.arc((p[k] - x0) / (x1 - x0) * size, (y1 - p[k + 1]) / (y1 - y0) * size, r, 0, 2 * Math.PI);
    ctx.fillStyle = COLOURS[p[k + 2] > 0.5 ? 1 : 0]; ctx.fill(); ctx.stroke();
  }
}

// The loss curves on a log y-axis with a line per decade, like the static loss_svg; x runs from epoch 1.
function drawCurve(ctx, w, h, train, test, label) {
  const pw = w - M.left - M.right, ph = h - M.top - M.bottom;
  const [tx, tv] = train.points(), [ux, uv] = test.points();
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px sans-serif'; ctx.fillStyle = '#000'; ctx.textAlign = 'left';
  ctx.fillText(`${label}, log scale`, M.left, 14);
  ctx.strokeStyle = '#888'; ctx.lineWidth = 1; ctx.strokeRect(M.left + 0.5, M.top + 0.5, pw, ph);
  const logs = tv.concat(uv).filter(v => v > 0 && isFinite(v)).map(Math.log10);
  if (!logs.length) { ctx.fillStyle = '#888'; ctx.fillText('press Play or Step', M.left + 10, M.top + 20); return; }
  const lo = Math.floor(Math.min(...logs)), hi = Math.max(Math.ceil(Math.max(...logs)), lo + 1);
  const end = Math.max(tx[tx.length - 1] || 0, ux[ux.length - 1] || 0, 2);
  const sx = (x) => M.left + pw * (x - 1) / (end - 1);
  const sy = (v) => M.top + ph * (hi - Math.log10(Math.max(v, 1e-12))) / (hi - lo);
  ctx.textAlign = 'right';
  for (let d = lo; d <= hi; d += Math.max(1, Math.ceil((hi - lo) / 6))) {   // at most about 7 labelled decades
    ctx.strokeStyle = '#ddd'; ctx.beginPath(); ctx.moveTo(M.left, sy(10 ** d)); ctx.lineTo(M.left + pw, sy(10 ** d));
    ctx.stroke(); ctx.fillStyle = '#000'; ctx.fillText(`1e${d}`, M.left - 4, sy(10 ** d) + 4);
  }
  for (const [x, v, colour] of [[tx, tv, COLOURS.train], [ux, uv, COLOURS.test]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    x.forEach((xi, k) => k ? ctx.lineTo(sx(xi), sy(v[k])) : ctx.moveTo(sx(xi), sy(v[k])));
    ctx.stroke();
  }
  if (ux.length) {                         // a legend only when there is a second series to tell apart
    ctx.textAlign = 'left';
    ['train', 'test'].forEach((name, k) => {
      ctx.fillStyle = COLOURS[name]; ctx.fillRect(M.left + pw - 60, M.top + 8 + 14 * k, 12, 3);
      ctx.fillStyle = '#000'; ctx.fillText(name, M.left + pw - 44, M.top + 12 + 14 * k);
    });
  }
  ctx.fillStyle = '#000'; ctx.textAlign = 'left'; ctx.fillText('1', M.left, h - 8);
  ctx.textAlign = 'right'; ctx.fillText(`epoch ${end.toLocaleString('en')}`, M.left + pw, h - 8);
}

const fmt = (x) => String(Number(x.toPrecision(3)));    // like Python's '.3g'

function readoutText(f) {
  const parts = [`epoch ${f.epoch.toLocaleString('en')}`, `loss ${f.loss == null ? '–' : f.loss.toFixed(5)}`,
                 `lr ${fmt(f.lr)}`];
  return parts.join(' · ') + (f.extra ? ` · ${f.extra}` : '');
}

// ---- The network view: every unit a small map of its activation over the plane, every wire a weight or a gradient.
const SIGN = {pos: '#ff7f0e', neg: '#1f77b4'};        // TF Playground's convention: orange positive, blue negative
const NET_H = 260;

// Where each unit sits: columns = layers (the two inputs, each hidden layer, the output), units spread down each column.
function netLayout(sizes, w, h) {
  const cols = [sizes[0], ...sizes.slice(1, -1), 1], most = Math.max(...cols);
  const s = Math.max(6, Math.min(28, (h - 16) / most - 4));           // a unit's side, px
  return cols.map((n, i) => Array.from({length: n}, (_, j) => ({
    x: 12 + (w - 24 - s) * i / (cols.length - 1), y: 8 + (h - 16) * (j + 0.5) / n - s / 2, s})));
}

// Wire k of layer l: W_l[p, q] from unit p of column l to unit q of column l + 1; values laid out W then b per layer.
function wires(sizes, vals) {
  const out = [], bias = [];
  let off = 0;
  for (let l = 0; l < sizes.length - 1; l++) {
    const a = sizes[l], b = sizes[l + 1];
    for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) out.push({l, p, q, v: vals[off + p * b + q]});
    off += a * b;
    for (let q = 0; q < b; q++) bias.push({l: l + 1, q, v: vals[off + q]});
    off += b;
  }
  return [out, bias];
}

// Line width for a value: weights linearly up to |w| = 4; gradients on a log scale from 1e-6 to 1, so that they
// visibly shrink as training converges (a per-frame normalisation would hide exactly that).
const widthOf = (v, mode) => mode === 'gradients'
  ? 0.3 + 4 * Math.min(1, Math.max(0, (Math.log10(Math.abs(v) + 1e-30) + 6) / 6))
  : 0.3 + Math.min(Math.abs(v), 4);

function drawNetwork(ctx, atlas, actx, w, h, f, buffers, lut) {
  const net = f.net, sizes = net.sizes, m = net.m, mode = net.mode;
  const maps = bytes(buffers[net.maps]);
  const vals = floats(buffers[mode === 'gradients' && net.grads != null ? net.grads : net.weights]);
  const lay = netLayout(sizes, w, h), units = lay.flat();
  // every unit's m×m map into one strip, then each drawn scaled into its square (row 0 of a map is the lowest y)
  if (atlas.width !== m * units.length || atlas.height !== m) { atlas.width = m * units.length; atlas.height = m; }
  const img = actx.createImageData(m * units.length, m), px = img.data;
  for (let u = 0; u < units.length; u++)
    for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) {
      const v = maps[u * m * m + (m - 1 - r) * m + c], o = 4 * (r * m * units.length + u * m + c);
      px[o] = lut[3 * v]; px[o + 1] = lut[3 * v + 1]; px[o + 2] = lut[3 * v + 2]; px[o + 3] = 255;
    }
  actx.putImageData(img, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const [ws, bs] = wires(sizes, vals);
  // one stroke per (colour, width bucket): a few strokes instead of one per wire
  const buckets = new Map();
  for (const e of ws) {
    const a = lay[e.l][e.p], b = lay[e.l + 1][e.q], width = Math.round(widthOf(e.v, mode) * 2) / 2;
    const key = `${e.v < 0 ? 'neg' : 'pos'} ${width}`;
    if (!buckets.has(key)) buckets.set(key, []);
    e.seg = [a.x + a.s, a.y + a.s / 2, b.x, b.y + b.s / 2];
    buckets.get(key).push(e.seg);
  }
  ctx.globalAlpha = 0.75;
  for (const [key, segs] of buckets) {
    const [sign, width] = key.split(' ');
    ctx.strokeStyle = SIGN[sign]; ctx.lineWidth = +width; ctx.beginPath();
    for (const [x0, y0, x1, y1] of segs) { ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  units.forEach((u, k) => {
    ctx.drawImage(atlas, k * m, 0, m, m, u.x, u.y, u.s, u.s);
    ctx.strokeStyle = '#555'; ctx.lineWidth = 1; ctx.strokeRect(u.x + 0.5, u.y + 0.5, u.s - 1, u.s - 1);
  });
  for (const e of bs) {                                   // each unit's bias (or ∂L/∂b): a bar under it
    const u = lay[e.l][e.q], len = Math.min(u.s, widthOf(e.v, mode) * u.s / 4.3);
    ctx.fillStyle = SIGN[e.v < 0 ? 'neg' : 'pos']; ctx.fillRect(u.x, u.y + u.s + 1, len, 3);
    e.rect = [u.x, u.y, u.s, u.s + 4];
  }
  let top = 0;
  for (const v of vals) top = Math.max(top, Math.abs(v));
  ctx.fillStyle = '#000'; ctx.font = '11px sans-serif'; ctx.textAlign = 'right';
  ctx.fillText(mode === 'gradients' ? `largest |∂L/∂w| ${top.toExponential(1)}` : `largest |w| ${top.toFixed(2)}`, w - 6, h - 4);
  return {ws, bs, mode, top};
}

// What is under the pointer: a unit (its bias, or ∂L/∂b) or a wire (its weight, or ∂L/∂w).
function netHit(state, x, y) {
  if (!state) return null;
  const d = state.mode === 'gradients' ? '∂L/∂' : '';
  for (const e of state.bs) {
    const [rx, ry, rw, rh] = e.rect;
    if (x >= rx && x <= rx + rw && y >= ry && y <= ry + rh) return `layer ${e.l}, unit ${e.q + 1}: ${d}b = ${e.v.toPrecision(3)}`;
  }
  let best = null, bd = 4;
  for (const e of state.ws) {
    const [x0, y0, x1, y1] = e.seg, dx = x1 - x0, dy = y1 - y0;
    const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)));
    const dist = Math.hypot(x - x0 - t * dx, y - y0 - t * dy);
    if (dist < bd) { bd = dist; best = e; }
  }
  return best && `${d}W${best.l + 1}[${best.p + 1}, ${best.q + 1}] = ${best.v.toPrecision(3)}`;
}

// After a divergence the board keeps its last picture, under a notice of what happened and what to do.
function banner(ctx, size, epoch) {
  ctx.fillStyle = 'rgba(255,255,255,0.85)'; ctx.fillRect(0, size / 2 - 30, size, 60);
  ctx.fillStyle = '#b00'; ctx.textAlign = 'center';
  ctx.font = 'bold 16px sans-serif'; ctx.fillText(`diverged at epoch ${epoch.toLocaleString('en')}`, size / 2, size / 2 - 6);
  ctx.font = '13px sans-serif'; ctx.fillText('lower the learning rate, then Reset', size / 2, size / 2 + 18);
}

// The view's elements: the boundary canvas with the points' canvas over it, the loss canvas, the readout.
function layout(el, size, cw) {
  const div = (cls, css) => Object.assign(document.createElement('div'), {className: cls, style: css});
  const root = div('bp-board', 'display:inline-flex;flex-direction:column;gap:4px');
  const plot = div('bp-plot', `position:relative;width:${size}px;height:${size}px`);
  const row = div('', 'display:flex;gap:12px');
  const readout = div('bp-readout', 'font-family:monospace;font-size:13px;min-height:1.4em');
  const [board, bctx] = canvas('bp-boundary', size, size);
  const [dots, dctx] = canvas('bp-points', size, size);
  const [curve, cctx] = canvas('bp-loss', cw, size);
  dots.style.cssText += ';position:absolute;left:0;top:0';
  plot.append(board, dots);
  row.append(plot, curve);
  // the network view under them, with its weights/gradients toggle and a tooltip for what is under the pointer
  const netBox = div('bp-network-box', `position:relative;width:${size + 12 + cw}px`);
  const [network, nctx] = canvas('bp-network', size + 12 + cw, NET_H);
  const toggle = Object.assign(document.createElement('button'), {className: 'bp-net-mode', textContent: 'wires: weights'});
  toggle.style.cssText = 'position:absolute;left:4px;top:2px;font-size:11px';
  const tip = div('bp-net-tip', 'position:absolute;display:none;background:#fff;border:1px solid #888;padding:1px 4px;' +
                  'font:11px monospace;pointer-events:none;white-space:nowrap');
  netBox.append(network, toggle, tip);
  root.append(row, readout, netBox);
  el.append(root);
  return {root, bctx, dctx, cctx, readout, network, nctx, toggle, tip};
}

function render({model, el}) {
  const id = Math.random().toString(36).slice(2);   // this view, so the kernel can tell several views apart
  const size = model.get('size'), cw = model.get('curve_width');
  const {root, bctx, dctx, cctx, readout, network, nctx, toggle, tip} = layout(el, size, cw);
  const atlas = document.createElement('canvas'), actx = atlas.getContext('2d');   // the units' maps, side by side
  let netState = null;
  const train = series(), test = series();
  const off = document.createElement('canvas');     // the n×n picture, scaled onto the board when drawn
  const octx = off.getContext('2d');
  let img = null, latest = null, dropped = 0, raf = 0, acked = null, idle = 0;

  // Every frame's losses count, even when its picture is dropped for a newer one.
  function take(f, buffers) {
    if (f.reset) { train.clear(); test.clear(); }
    const v = buffers[1] ? floats(buffers[1]) : [];
    const x = f.reset ? doubles(buffers[2]) : null;      // explicit epochs: a resent, thinned-out curve
    for (let k = 0; k < v.length; k++) train.push(x ? x[k] : f.start + k, v[k]);
    for (const [e, y] of f.test || []) test.push(e, y);
    if (latest) dropped++;
    latest = {f, yhat: bytes(buffers[0]), buffers, at: performance.now()};
    if (document.hidden) model.send({type: 'ack', seq: f.seq});   // no animation frames in a hidden tab
    if (!raf) raf = requestAnimationFrame(paint);
  }

  // One paint per animation frame, of the newest frame only; then one ack, which acknowledges every frame
  // up to it: the kernel sends the next frame only after this, so frames never pile up anywhere.
  function paint() {
    raf = 0;
    if (!latest) return nudge();
    const {f, yhat, buffers, at} = latest; latest = null;
    const n = f.n, lut = bytes(model.get('lut'));
    if (!img || img.width !== n) { off.width = off.height = n; img = octx.createImageData(n, n); }
    boundaryPixels(img, yhat, n, lut);
    octx.putImageData(img, 0, 0);
    bctx.drawImage(off, 0, 0, size, size);
    if (f.diverged != null) banner(bctx, size, f.diverged);
    drawCurve(cctx, cw, size, train, test, model.get('label'));
    if (f.net) {
      netState = drawNetwork(nctx, atlas, actx, size + 12 + cw, NET_H, f, buffers, lut);
      network.dataset.mode = f.net.mode;
    }
    readout.textContent = readoutText(f);               // same task as the canvas: the same paint
    readout.style.color = f.diverged != null ? '#b00' : '';
    model.send({type: 'ack', seq: acked = f.seq});
    // for tests and benchmarks: when it was painted, how long it waited for the paint and was on its way
    const t = performance.now(), transit = f.t ? performance.timeOrigin + at - f.t : null;
    root.dispatchEvent(new CustomEvent('bp-paint', {bubbles: true,
      detail: {seq: f.seq, epoch: f.epoch, lr: f.lr, dropped, t, wait: t - at, transit,
               mode: f.net && f.net.mode, grad_max: f.net && f.net.mode === 'gradients' ? netState.top : null}}));
    dropped = idle = 0;
    raf = requestAnimationFrame(paint);
  }

  // Why repeat an ack: the kernel answers each message with a tiny 'busy' status, and a Jupyter server without
  // TCP_NODELAY holds everything it writes after that (the next frame too) until the browser's TCP stack
  // acknowledges it, which a browser that sends nothing does only after its delayed-ack timer (~40 ms). Any
  // message from the browser carries that acknowledgement: so while frames are coming, every animation frame
  // that brought none sends the last ack again (harmless: acks are cumulative), for at most NUDGES frames.
  function nudge() {
    if (acked === null || ++idle > NUDGES) return;
    model.send({type: 'ack', seq: acked});
    raf = requestAnimationFrame(paint);
  }

  function onMsg(msg, buffers) { if (msg.type === 'frame') take(msg, buffers); }

  // Seen = on screen and in a visible tab; the kernel sends no frames to a view nobody can see.
  let inView = false, seen = null;
  function tell() {
    const now = inView && !document.hidden;
    if (now === seen) return;
    seen = now;
    model.send({type: 'visible', view: id, value: now});
    // a hidden tab runs no animation frames: acknowledge what arrived, and paint it when the tab comes back
    if (!now && latest) model.send({type: 'ack', seq: latest.f.seq});
  }
  const io = new IntersectionObserver((es) => { inView = es[es.length - 1].isIntersecting; tell(); });
  io.observe(root);
  document.addEventListener('visibilitychange', tell);
  const bye = () => model.send({type: 'bye', view: id});   // a reloaded or closed page says so too
  window.addEventListener('pagehide', bye);
  const redrawPoints = () => drawPoints(dctx, model, size);
  model.on('change:points', redrawPoints);
  model.on('change:bounds', redrawPoints);
  model.on('msg:custom', onMsg);
  // the toggle only sets the mode; the kernel sends the gradients with the next frame (at once, when paused)
  const showMode = () => { toggle.textContent = `wires: ${model.get('mode')} (switch)`; };
  toggle.onclick = () => { model.set('mode', model.get('mode') === 'weights' ? 'gradients' : 'weights'); model.save_changes(); };
  model.on('change:mode', showMode); showMode();
  network.dataset.mode = model.get('mode');
  network.addEventListener('mousemove', (e) => {
    const r = network.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top, text = netHit(netState, x, y);
    tip.style.display = text ? 'block' : 'none';
    if (text) { tip.textContent = text; tip.style.left = `${x + 12}px`; tip.style.top = `${y + 8}px`; }
  });
  network.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  redrawPoints();
  bctx.fillStyle = '#fff'; bctx.fillRect(0, 0, size, size);
  drawCurve(cctx, cw, size, train, test, model.get('label'));
  model.send({type: 'hello', view: id});            // the kernel answers with the current frame and curve

  return () => {                                     // the view is gone: stop listening, and say so
    io.disconnect();
    document.removeEventListener('visibilitychange', tell);
    model.off('change:points', redrawPoints);
    model.off('change:bounds', redrawPoints);
    model.off('msg:custom', onMsg);
    window.removeEventListener('pagehide', bye);
    if (raf) cancelAnimationFrame(raf);
    bye();
  };
}

export default { render };
export { boundaryPixels, series };   // for tests
