// The δ view: each unit's δ = ∂L/∂z, revealed layer by layer from the loss back to the inputs,
// and on a wire's click each point's share of that wire's gradient. The kernel computes; this
// draws.
const W = 520;
const H = 220;
const BOARD = 220;

const el = (tag, cls, css) => Object.assign(document.createElement(tag),
                                            {className: cls, style: css});

// A value as text; the kernel sends null for NaN and ±inf (JSON has neither).
const show = (v) => (v == null ? 'not finite' : v.toPrecision(3));

// The colour of a signed value: orange positive, blue negative, stronger for larger |v| / top.
function tint(v, top) {
  const a = Math.min(1, Math.abs(v) / (top || 1));
  const c = v < 0 ? [31, 119, 180] : [255, 127, 14];
  const mix = c.map((k) => Math.round(255 - a * (255 - k)));
  return `rgb(${mix[0]},${mix[1]},${mix[2]})`;
}

// Column i holds the units of layer i (0: the inputs); unit j's centre and radius.
function layout(sizes) {
  const most = Math.max(...sizes);
  const r = Math.max(5, Math.min(16, (H - 40) / most / 2 - 3));
  return sizes.map((n, i) => Array.from({length: n}, (_, j) => ({
    x: 40 + (W - 120) * i / (sizes.length - 1),
    y: 20 + (H - 40) * (j + 0.5) / n,
    r})));
}

// The layers shown at step k: the last k + 1 columns (step 0: the output's δ alone).
const shown = (i, n, step) => i >= n - 1 - step;

function drawNet(ctx, d, step) {
  const lay = layout(d.sizes);
  const n = d.sizes.length;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = '#999';
  ctx.lineWidth = 1;
  for (let i = 0; i < n - 1; i++) {
    for (const a of lay[i]) {
      for (const b of lay[i + 1]) {
        ctx.beginPath();
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
        ctx.stroke();
      }
    }
  }
  lay.forEach((col, i) => col.forEach((u, j) => {
    ctx.beginPath();
    ctx.arc(u.x, u.y, u.r, 0, 2 * Math.PI);
    ctx.fillStyle = shown(i, n, step) ? tint(d.deltas[i][j], d.top) : '#eee';
    ctx.fill();
    ctx.strokeStyle = '#555';
    ctx.stroke();
    // the colour scale is the view's largest |δ|: the number shows how small the rest is
    if (shown(i, n, step)) label(ctx, d.deltas[i][j], u);
  }));
  const out = lay[n - 1][0];
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText('L', out.x + 40, out.y + 4);
  ctx.fillText(`δ of ${d.source}`, 4, 12);
  legend(ctx, d.top);
  return lay;
}

function label(ctx, v, u) {
  ctx.fillStyle = '#333';
  ctx.font = '10px sans-serif';
  ctx.fillText(v == null ? 'not finite' : v.toPrecision(2), u.x - u.r, u.y + u.r + 11);
}

function legend(ctx, top) {
  const x = W - 70;
  [-1, -0.5, 0, 0.5, 1].forEach((f, k) => {
    ctx.fillStyle = tint(f * top, top);
    ctx.fillRect(x + k * 12, H - 16, 12, 10);
  });
  ctx.fillStyle = '#333';
  ctx.fillText(`±${top.toPrecision(2)}`, x, H - 20);
}

// What is under the pointer: a unit (its δ) or a wire (layer l, from unit p to unit q).
function hit(lay, d, x, y) {
  for (let i = 0; i < lay.length; i++) {
    for (let j = 0; j < lay[i].length; j++) {
      const u = lay[i][j];
      if (Math.hypot(x - u.x, y - u.y) <= u.r) return {unit: [i, j], v: d.deltas[i][j]};
    }
  }
  for (let l = 0; l < lay.length - 1; l++) {
    for (let p = 0; p < lay[l].length; p++) {
      for (let q = 0; q < lay[l + 1].length; q++) {
        if (near(lay[l][p], lay[l + 1][q], x, y)) return {wire: [l, p, q]};
      }
    }
  }
  return null;
}

function near(a, b, x, y) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const t = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - a.x - t * dx, y - a.y - t * dy) < 4;
}

// Each point on a small board: a disc whose area follows its share of ∂L/∂w, its colour the sign.
function drawShares(ctx, c) {
  ctx.clearRect(0, 0, BOARD, BOARD);
  if (!c || !c.values) return;   // no wire clicked yet
  const [x0, x1, y0, y1] = c.bounds;
  const top = Math.max(...c.values.map((v) => Math.abs(v || 0)), 1e-30);
  c.points.forEach(([px, py, cls], k) => {
    const x = (px - x0) / (x1 - x0) * BOARD;
    const y = BOARD - (py - y0) / (y1 - y0) * BOARD;
    ctx.beginPath();
    ctx.arc(x, y, 3 + 14 * Math.sqrt(Math.abs(c.values[k]) / top), 0, 2 * Math.PI);
    ctx.fillStyle = tint(c.values[k], top);
    ctx.fill();
    ctx.strokeStyle = cls > 0.5 ? '#000' : '#888';
    ctx.stroke();
  });
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(`${c.name}: Σ shares = ${show(c.sum)}`, 4, 12);
  ctx.fillText(`Σ |share| = ${show(c.abs)}`, 4, 26);
}

function render({model, el: root}) {
  const box = el('div', 'bp-delta', 'position:relative;display:flex;gap:12px');
  const net = el('canvas', 'bp-delta-net', `width:${W}px;height:${H}px`);
  const shares = el('canvas', 'bp-delta-shares', `width:${BOARD}px;height:${BOARD}px`);
  const tip = el('div', 'bp-delta-tip', 'position:absolute;display:none;font:11px monospace;'
                 + 'padding:1px 4px;border:1px solid #888;background:#fff;pointer-events:none');
  net.width = W;
  net.height = H;
  shares.width = BOARD;
  shares.height = BOARD;
  box.append(net, shares, tip);
  root.append(box);
  let lay = null;
  const paint = () => {
    const d = model.get('view');
    if (d && d.sizes) lay = drawNet(net.getContext('2d'), d, model.get('step'));
    drawShares(shares.getContext('2d'), model.get('shares'));
    net.dataset.step = String(model.get('step'));
    net.dataset.source = d && d.source ? d.source : '';
    const c = model.get('shares');
    shares.dataset.wire = c && c.name ? c.name : '';
    shares.dataset.sum = c && c.name ? String(c.sum) : '';
  };
  const at = (e) => {
    const r = net.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  net.addEventListener('mousemove', (e) => {
    const [x, y] = at(e);
    const h = lay && hit(lay, model.get('view'), x, y);
    tip.style.display = h ? 'block' : 'none';
    if (!h) return;
    const [a, b, c] = h.wire || [];
    tip.textContent = h.unit
      ? `layer ${h.unit[0]}, unit ${h.unit[1] + 1}: δ = ${show(h.v)}`
      : `W${a + 1}[${b + 1}, ${c + 1}]: click for each point's share`;
    tip.style.left = `${x + 12}px`;
    tip.style.top = `${y + 8}px`;
  });
  net.addEventListener('mouseleave', () => {
    tip.style.display = 'none';
  });
  net.addEventListener('click', (e) => {
    const [x, y] = at(e);
    const h = lay && hit(lay, model.get('view'), x, y);
    if (h && h.wire) model.send({type: 'wire', layer: h.wire[0], i: h.wire[1], j: h.wire[2]});
  });
  const events = ['change:view', 'change:step', 'change:shares'];
  for (const name of events) model.on(name, paint);
  paint();
  return () => {
    for (const name of events) model.off(name, paint);
  };
}

export default { render };
