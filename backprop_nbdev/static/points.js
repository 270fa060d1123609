// The board's tool bar: add points of either class, remove, clear, or pick one point. A click
// goes to the kernel as a message ({type: 'edit', op, x, y, cls} or {type: 'pick', index}); the
// kernel edits the points and sends them back, so the page keeps no copy of its own.
import {CLASS} from './draw.js';

const TOOLS = [['add0', 'add ● class 0'], ['add1', 'add ● class 1'], ['remove', 'remove'],
               ['clear', 'clear'], ['pick', 'pick']];
const PICK_PX = 8;   // a pick further than this from every point picks the batch mean

// The data coordinates of the CSS pixel (px, py) of a size × size board over `bounds`.
export function toData(px, py, bounds, size) {
  const [x0, x1, y0, y1] = bounds;
  return [x0 + px / size * (x1 - x0), y1 - py / size * (y1 - y0)];
}

// The index of the point (quadruples x, y, class, test) nearest to (px, py) within `within` CSS
// pixels, or null.
export function pointAt(p, bounds, size, px, py, within) {
  const [x0, x1, y0, y1] = bounds;
  let best = null;
  let dist = within * within;
  for (let k = 0; k < p.length; k += 4) {
    const dx = (p[k] - x0) / (x1 - x0) * size - px;
    const dy = (y1 - p[k + 1]) / (y1 - y0) * size - py;
    if (dx * dx + dy * dy <= dist) {
      dist = dx * dx + dy * dy;
      best = k / 4;
    }
  }
  return best;
}

function toolButton(bar, name, label, choose) {
  const b = document.createElement('button');
  const [before, after] = label.split('●');
  b.append(before);
  if (after !== undefined) {   // the dot in its class's colour; the words in the theme's
    const dot = Object.assign(document.createElement('span'), {textContent: '●'});
    dot.style.color = CLASS[name.at(-1)];
    b.append(dot, after);
  }
  b.className = `bp-tool bp-tool-${name}`;
  b.style.cssText = 'font-size:11px;padding:1px 6px;border-radius:3px;cursor:pointer;'
    + 'border:1px solid var(--jp-border-color1, #888);'
    + 'background:var(--jp-layout-color1, #fff);color:var(--jp-ui-font-color1, #000)';
  b.onclick = () => choose(name, b);
  bar.append(b);
}

// The tool bar above the board; clicks on the points' canvas `dots` do what the tool says.
export function toolbar(v, model, send, pointsOf) {
  const bar = Object.assign(document.createElement('div'), {className: 'bp-tools'});
  bar.style.cssText = 'display:flex;gap:4px;flex-wrap:wrap;font:11px sans-serif';
  let tool = null;
  const choose = (name, b) => {
    if (name === 'clear') return send({type: 'edit', op: 'clear'});
    tool = tool === name ? null : name;              // a second click puts the tool down
    for (const n of bar.children) {
      n.style.outline = n === b && tool ? '2px solid var(--jp-brand-color1, #1976d2)' : 'none';
    }
    v.dots.style.cursor = tool && tool !== 'pick' ? 'crosshair' : tool ? 'pointer' : 'default';
  };
  for (const [name, label] of TOOLS) toolButton(bar, name, label, choose);
  v.dots.addEventListener('click', (e) => {
    if (!tool) return;
    const r = v.dots.getBoundingClientRect();
    const px = e.clientX - r.left;
    const py = e.clientY - r.top;
    const bounds = model.get('bounds');
    const [x, y] = toData(px, py, bounds, v.size);
    if (tool === 'pick') {
      send({type: 'pick', index: pointAt(pointsOf(), bounds, v.size, px, py, PICK_PX)});
    } else if (tool === 'remove') send({type: 'edit', op: 'remove', x, y});
    else send({type: 'edit', op: 'add', x, y, cls: tool === 'add1' ? 1 : 0});
  });
  v.root.prepend(bar);
  return bar;
}
