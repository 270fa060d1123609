// Pure drawing functions of the playground's view: each draws data it is given on a canvas context,
// and keeps no state. Text and lines take their colours from `theme`, read from JupyterLab's CSS
// variables (light or dark), so the plot reads on either.
import {bytes, floats, num} from './frames.js';
import {gapColour, gapLegend} from './gap.js';

export const CLASS = {0: '#1f77b4', 1: '#d62728'};      // the points' classes, as the static figure
export const CURVE = {train: '#3a8fd9', test: '#ff7f0e'};  // legible on light and dark backgrounds
// TF Playground's wire colours: orange positive, blue negative
export const SIGN = {pos: '#ff7f0e', neg: '#1f77b4'};
export const M = {left: 46, right: 10, top: 22, bottom: 26};   // the loss plot's margins
export const NET_H = 260;

const css = (style, name, fallback) => style.getPropertyValue(name).trim() || fallback;

// The theme's colours for text and lines, from the element's computed style.
export function themeOf(el) {
  const s = getComputedStyle(el);
  const vscode = css(s, '--vscode-editor-foreground', s.color || '#000');
  const ink = css(s, '--jp-ui-font-color1', vscode);
  return {ink,
          faint: css(s, '--jp-ui-font-color2', ink),
          grid: css(s, '--jp-border-color2', 'rgba(128,128,128,0.35)'),
          paper: css(s, '--jp-layout-color1', css(s, '--vscode-editor-background', '#fff'))};
}

// Colour ŷ through the LUT into `img` (n×n RGBA), y upwards, and blacken the ŷ = 0.5 contour:
// a pixel is on it when it lies on the other side of 0.5 from its left or upper neighbour.
export function boundaryPixels(img, yhat, n, lut) {
  const px = img.data;
  for (let r = 0; r < n; r++) {    // r: image row, top first; data row n-1-r (data rows go up in y)
    const row = (n - 1 - r) * n;
    const up = (n - r) * n;
    for (let c = 0; c < n; c++) {
      const v = yhat[row + c];
      const o = 4 * (r * n + c);
      const above = v >= 128;
      const edge = (c > 0 && (yhat[row + c - 1] >= 128) !== above)
        || (r > 0 && (yhat[up + c] >= 128) !== above);
      px[o] = edge ? 0 : lut[3 * v];
      px[o + 1] = edge ? 0 : lut[3 * v + 1];
      px[o + 2] = edge ? 0 : lut[3 * v + 2];
      px[o + 3] = 255;
    }
  }
}

// The points, (x, y, class, test) quadruples in data coordinates. Training points: a white ring;
// test points: a black ring in a thin white halo (TF Playground outlines them so). Both rings part
// a point from a region of its own colour.
export function drawPoints(ctx, p, bounds, size) {
  const [x0, x1, y0, y1] = bounds;
  const r = p.length / 4 <= 20 ? 9 : 3.5;
  ctx.clearRect(0, 0, size, size);
  for (let k = 0; k < p.length; k += 4) {
    const x = (p[k] - x0) / (x1 - x0) * size;
    const y = (y1 - p[k + 1]) / (y1 - y0) * size;
    const test = p[k + 3] > 0.5;
    ctx.beginPath();
    ctx.arc(x, y, r + (test ? 1 : 0), 0, 2 * Math.PI);
    ctx.fillStyle = CLASS[p[k + 2] > 0.5 ? 1 : 0];
    ctx.fill();
    ctx.lineWidth = test ? 3.5 : 1.5;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
    if (test) {
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#000';
      ctx.stroke();
    }
  }
}

function axes(ctx, w, h, label, theme) {
  const pw = w - M.left - M.right;
  const ph = h - M.top - M.bottom;
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px sans-serif';
  ctx.fillStyle = theme.ink;
  ctx.textAlign = 'left';
  ctx.fillText(`${label}, log scale`, M.left, 14);
  ctx.strokeStyle = theme.faint;
  ctx.lineWidth = 1;
  ctx.strokeRect(M.left + 0.5, M.top + 0.5, pw, ph);
  return [pw, ph];
}

function decades(ctx, lo, hi, sy, pw, theme) {
  ctx.textAlign = 'right';
  ctx.lineWidth = 1;
  for (let d = lo; d <= hi; d += Math.max(1, Math.ceil((hi - lo) / 6))) {   // at most ~7 labels
    ctx.strokeStyle = theme.grid;
    ctx.beginPath();
    ctx.moveTo(M.left, sy(10 ** d));
    ctx.lineTo(M.left + pw, sy(10 ** d));
    ctx.stroke();
    ctx.fillStyle = theme.ink;
    ctx.fillText(`1e${d}`, M.left - 4, sy(10 ** d) + 4);
  }
}

function line(ctx, x, v, sx, sy, colour) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let up = false;                 // a non-finite loss breaks the line
  for (let k = 0; k < x.length; k++) {
    if (!(v[k] > 0 && Number.isFinite(v[k]))) {
      up = false;
      continue;
    }
    if (up) ctx.lineTo(sx(x[k]), sy(v[k]));
    else ctx.moveTo(sx(x[k]), sy(v[k]));
    up = true;
  }
  ctx.stroke();
}

function legend(ctx, pw, theme) {
  ctx.textAlign = 'left';
  ['train', 'test'].forEach((name, k) => {
    ctx.fillStyle = CURVE[name];
    ctx.fillRect(M.left + pw - 60, M.top + 8 + 14 * k, 12, 3);
    ctx.fillStyle = theme.ink;
    ctx.fillText(name, M.left + pw - 44, M.top + 12 + 14 * k);
  });
}

// The loss curves on a log y-axis with a line per decade; x runs from epoch 1.
export function drawCurve(ctx, w, h, train, test, label, theme) {
  const [pw, ph] = axes(ctx, w, h, label, theme);
  const [tx, tv] = train.points();
  const [ux, uv] = test.points();
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of tv.concat(uv)) {
    if (v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, Math.log10(v));
      hi = Math.max(hi, Math.log10(v));
    }
  }
  if (lo === Infinity) {
    ctx.fillStyle = theme.faint;
    ctx.fillText('press Play or Step', M.left + 10, M.top + 20);
    return;
  }
  lo = Math.floor(lo);
  hi = Math.max(Math.ceil(hi), lo + 1);
  const end = Math.max(tx[tx.length - 1] || 0, ux[ux.length - 1] || 0, 2);
  const sx = (x) => M.left + pw * (x - 1) / (end - 1);
  const sy = (v) => M.top + ph * (hi - Math.log10(Math.max(v, 1e-12))) / (hi - lo);
  decades(ctx, lo, hi, sy, pw, theme);
  line(ctx, tx, tv, sx, sy, CURVE.train);
  line(ctx, ux, uv, sx, sy, CURVE.test);
  if (ux.length) legend(ctx, pw, theme);   // only when there is a second series to tell apart
  ctx.fillStyle = theme.ink;
  ctx.textAlign = 'left';
  ctx.fillText('1', M.left, h - 8);
  ctx.textAlign = 'right';
  ctx.fillText(`epoch ${end.toLocaleString('en')}`, M.left + pw, h - 8);
}

const fmt = (x) => String(Number(x.toPrecision(3)));    // like Python's '.3g'

// The line under the board: it always describes the frame on screen.
export function readoutText(f) {
  const loss = f.loss == null ? 'not finite' : f.loss.toFixed(5);
  const parts = [`epoch ${f.epoch.toLocaleString('en')}`, `loss ${loss}`,
                 `lr ${f.lr == null ? 'not finite' : fmt(f.lr)}`];
  return parts.join(' · ') + (f.extra ? ` · ${f.extra}` : '');
}

// Where each unit sits: columns = layers (the inputs, each hidden layer, the output), units spread
// down each column, below a row of column titles.
export function netLayout(sizes, w, h) {
  const cols = [sizes[0], ...sizes.slice(1, -1), 1];
  const top = 16;
  const bottom = 22;                                          // room for the legend
  const most = Math.max(...cols);
  const s = Math.max(6, Math.min(28, (h - top - bottom) / most - 4));   // a unit's side, px
  return cols.map((n, i) => Array.from({length: n}, (_, j) => ({
    x: 30 + (w - 60 - s) * i / (cols.length - 1),
    y: top + (h - top - bottom) * (j + 0.5) / n - s / 2,
    s})));
}

// Wire k of layer l: W_l[p, q] from unit p of column l to unit q of column l + 1; the values are
// laid out W then b per layer.
export function wires(sizes, vals) {
  const out = [];
  const bias = [];
  let off = 0;
  for (let l = 0; l < sizes.length - 1; l++) {
    const a = sizes[l];
    const b = sizes[l + 1];
    for (let p = 0; p < a; p++) {
      for (let q = 0; q < b; q++) out.push({l, p, q, v: vals[off + p * b + q]});
    }
    off += a * b;
    for (let q = 0; q < b; q++) bias.push({l: l + 1, q, v: vals[off + q]});
    off += b;
  }
  return [out, bias];
}

// Line width for a value: weights linearly up to |w| = 4; gradients on a log scale from 1e-6 to 1,
// so that they visibly shrink as training converges (a per-frame scale would hide exactly that).
export const widthOf = (v, mode) => (mode === 'gradients'
  ? 0.3 + 4 * Math.min(1, Math.max(0, (Math.log10(Math.abs(v) + 1e-30) + 6) / 6))
  : 0.3 + Math.min(Math.abs(v), 4));

// Every unit's m×m map (uint8 ŷ-like values) into one strip of the atlas canvas, row 0 lowest y.
export function atlasPixels(img, maps, units, m, lut) {
  const px = img.data;
  for (let u = 0; u < units; u++) {
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < m; c++) {
        const v = maps[u * m * m + (m - 1 - r) * m + c];
        const o = 4 * (r * m * units + u * m + c);
        px[o] = lut[3 * v];
        px[o + 1] = lut[3 * v + 1];
        px[o + 2] = lut[3 * v + 2];
        px[o + 3] = 255;
      }
    }
  }
}

// The wires, one stroke per (sign, width bucket): a few strokes instead of one per wire.
function strokeWires(ctx, lay, ws, mode) {
  const buckets = new Map();
  for (const e of ws) {
    const a = lay[e.l][e.p];
    const b = lay[e.l + 1][e.q];
    const key = mode === 'gap' ? `${gapColour(e.v)} 2.5`
      : `${e.v < 0 ? 'neg' : 'pos'} ${Math.round(widthOf(e.v, mode) * 2) / 2}`;
    if (!buckets.has(key)) buckets.set(key, []);
    e.seg = [a.x + a.s, a.y + a.s / 2, b.x, b.y + b.s / 2];
    buckets.get(key).push(e.seg);
  }
  ctx.globalAlpha = 0.75;
  for (const [key, segs] of buckets) {
    const [sign, width] = key.split(' ');
    ctx.strokeStyle = SIGN[sign] || sign;   // gap mode: the key holds the colour itself
    ctx.lineWidth = +width;
    ctx.beginPath();
    for (const [x0, y0, x1, y1] of segs) {
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

// Column titles, and the inputs' and the output's names beside their units.
function unitLabels(ctx, lay, theme) {
  ctx.fillStyle = theme.ink;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'center';
  const last = lay.length - 1;
  lay.forEach((col, i) => {
    const title = i === 0 ? 'inputs' : i === last ? 'output' : `hidden ${i}`;
    ctx.fillText(title, col[0].x + col[0].s / 2, 11);
  });
  ctx.textAlign = 'right';
  const sub = (j) => '₁₂₃₄'[j] || String(j + 1);
  lay[0].forEach((u, j) => ctx.fillText(`x${sub(j)}`, u.x - 4, u.y + u.s / 2 + 4));
  const out = lay[last][0];
  ctx.textAlign = 'left';
  ctx.fillText('ŷ', out.x + out.s + 4, out.y + out.s / 2 + 4);
}

// What the wires mean, bottom left; the largest value, bottom right.
function wireLegend(ctx, w, h, mode, top, theme) {
  if (mode === 'gap') return gapLegend(ctx, w, h, top, theme);
  const y = h - 8;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'left';
  let x = 6;
  for (const [sign, text] of [['pos', '> 0'], ['neg', '< 0']]) {
    ctx.fillStyle = SIGN[sign];
    ctx.fillRect(x, y - 4, 14, 3);
    ctx.fillStyle = theme.ink;
    ctx.fillText(text, x + 17, y);
    x += 46;
  }
  const what = mode === 'gradients' ? 'width: log |∂L/∂w|, 1e-6 … 1' : 'width: |w|, 0 … 4';
  ctx.fillText(`wire colour: sign · ${what}`, x, y);
  ctx.textAlign = 'right';
  ctx.fillText(mode === 'gradients' ? `largest |∂L/∂w| ${top.toExponential(1)}`
    : `largest |w| ${top.toFixed(2)}`, w - 6, y);
}

// Each unit's bias (or ∂L/∂b): a bar under it.
function biasBars(ctx, lay, bs, mode) {
  for (const e of bs) {
    const u = lay[e.l][e.q];
    ctx.fillStyle = mode === 'gap' ? gapColour(e.v) : SIGN[e.v < 0 ? 'neg' : 'pos'];
    const full = mode === 'gap' ? u.s : widthOf(e.v, mode) * u.s / 4.3;
    ctx.fillRect(u.x, u.y + u.s + 1, Math.min(u.s, full), 3);
    e.rect = [u.x, u.y, u.s, u.s + 4];
  }
}

// The network: every unit a small map of its activation over the plane (from the atlas), every wire
// a weight or a gradient. Returns what netHit needs to name what is under the pointer.
export function drawNetwork(ctx, atlas, w, h, net, vals, theme) {
  const lay = netLayout(net.sizes, w, h);
  const m = net.m;
  ctx.clearRect(0, 0, w, h);
  const [ws, bs] = wires(net.sizes, vals);
  strokeWires(ctx, lay, ws, net.mode);
  lay.flat().forEach((u, k) => {
    ctx.drawImage(atlas, k * m, 0, m, m, u.x, u.y, u.s, u.s);
    ctx.strokeStyle = theme.faint;
    ctx.lineWidth = 1;
    ctx.strokeRect(u.x + 0.5, u.y + 0.5, u.s - 1, u.s - 1);
  });
  biasBars(ctx, lay, bs, net.mode);
  let top = 0;
  for (const v of vals) top = Math.max(top, Math.abs(num(v)) || 0);
  unitLabels(ctx, lay, theme);
  wireLegend(ctx, w, h, net.mode, top, theme);
  return {ws, bs, mode: net.mode, top};
}

// What is under the pointer: a unit (its bias, or ∂L/∂b) or a wire (its weight, or ∂L/∂w).
export function netHit(state, x, y) {
  if (!state) return null;
  const d = {gradients: '∂L/∂', gap: 'gap/bound of ∂L/∂'}[state.mode] || '';
  for (const e of state.bs) {
    const [rx, ry, rw, rh] = e.rect;
    if (x >= rx && x <= rx + rw && y >= ry && y <= ry + rh) {
      return `layer ${e.l}, unit ${e.q + 1}: ${d}b = ${e.v.toPrecision(3)}`;
    }
  }
  let best = null;
  let bd = 4;
  for (const e of state.ws) {
    const [x0, y0, x1, y1] = e.seg;
    const dx = x1 - x0;
    const dy = y1 - y0;
    const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)));
    const dist = Math.hypot(x - x0 - t * dx, y - y0 - t * dy);
    if (dist < bd) {
      bd = dist;
      best = e;
    }
  }
  return best && `${d}W${best.l + 1}[${best.p + 1}, ${best.q + 1}] = ${best.v.toPrecision(3)}`;
}

// The network frame's buffers as the values its wires show, and its unit maps.
export function netData(f, buffers) {
  const net = f.net;
  const wired = net.mode === 'gradients' || net.mode === 'gap';
  const which = wired && net.grads != null ? net.grads : net.weights;
  return {maps: bytes(buffers[net.maps]), vals: floats(buffers[which])};
}
