// The backward-pass stepper: the computation graph of the 2-3-1 network, walked one quantity at a time.
// All thirteen steps arrive at once as data (`steps`); Next and Back only move `index`, so stepping needs no kernel.
// The graph (positions, edges, labels) comes as `graph` and each step names its `node`: Python holds both.
// anywidget >= 0.9: export default { render({model, el}) }.

const SVG = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function graph({pos, edges, labels}) {
  const svg = svgEl('svg', {width: 640, height: 140, class: 'bp-graph'});
  svg.appendChild(svgEl('defs', {})).appendChild(svgEl('marker', {id: 'bp-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 6, markerHeight: 6, orient: 'auto'})).appendChild(svgEl('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#888'}));
  for (const [a, b] of edges) {
    const [x0, y0] = pos[a], [x1, y1] = pos[b], d = Math.hypot(x1 - x0, y1 - y0), r = 20;
    svg.appendChild(svgEl('line', {x1: x0 + (x1 - x0) * r / d, y1: y0 + (y1 - y0) * r / d, x2: x1 - (x1 - x0) * r / d,
      y2: y1 - (y1 - y0) * r / d, stroke: '#888', 'marker-end': 'url(#bp-arrow)'}));
  }
  const nodes = {};
  for (const [k, [x, y]] of Object.entries(pos)) {
    const g = svgEl('g', {'data-node': k});
    g.appendChild(svgEl('circle', {cx: x, cy: y, r: 19, fill: '#fff', stroke: '#444', 'stroke-width': 1.5}));
    g.appendChild(svgEl('text', {x, y: y + 5, 'text-anchor': 'middle', 'font-size': 15}, labels[k]));
    svg.appendChild(g); nodes[k] = g;
  }
  return [svg, nodes];
}

const fmt = (v) => (typeof v === 'number' ? (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : v);
function matrix(v) {
  const rows = Array.isArray(v) ? (Array.isArray(v[0]) ? v : [v]) : [[v]];
  const t = document.createElement('table');
  t.style.cssText = 'font:12px monospace;border-collapse:collapse';
  for (const r of rows) {
    const tr = t.insertRow();
    for (const x of r) { const td = tr.insertCell(); td.textContent = fmt(x); td.style.cssText = 'padding:1px 8px;text-align:right'; }
  }
  return t;
}

function column(title, v) {
  const d = document.createElement('div'), h = document.createElement('div');
  h.textContent = title; h.style.cssText = 'font:bold 12px sans-serif;margin-bottom:2px';
  d.append(h, matrix(v));
  return d;
}

function render({model, el}) {
  el.classList.add('bp-stepper');
  const [svg, nodes] = graph(model.get('graph'));
  const back = document.createElement('button'), next = document.createElement('button'), where = document.createElement('span');
  back.textContent = '◀ Back'; next.textContent = 'Next ▶';
  back.className = 'bp-stepper-back'; next.className = 'bp-stepper-next'; where.className = 'bp-stepper-where';
  const bar = document.createElement('div'); bar.className = 'bp-stepper-bar'; bar.append(back, next, where);
  bar.style.cssText = 'font:13px sans-serif;margin-top:4px';
  const detail = document.createElement('div'); detail.className = 'bp-stepper-detail';
  el.append(svg, bar, detail);

  const move = (d) => {
    const n = model.get('steps').length, i = Math.min(n - 1, Math.max(0, model.get('index') + d));
    model.set('index', i); model.save_changes();
  };
  back.onclick = () => move(-1); next.onclick = () => move(1);

  function draw() {
    const steps = model.get('steps'), i = model.get('index'), s = steps[i];
    const done = new Set(steps.slice(0, i).map((t) => t.node));
    for (const [k, g] of Object.entries(nodes)) {
      const c = g.querySelector('circle'), here = s.node === k;
      c.setAttribute('fill', here ? (s.kind === 'forward' ? '#ffe9a8' : '#ffc2c2') : done.has(k) ? '#eef3ff' : '#fff');
      c.setAttribute('stroke-width', here ? 3 : 1.5);
    }
    where.textContent = ` step ${i + 1} of ${steps.length}: ${s.kind} pass`;
    back.disabled = i === 0; next.disabled = i === steps.length - 1;
    detail.replaceChildren();
    const who = s.kind === 'forward' ? "PyTorch's own operations" : 'autograd';
    const h = document.createElement('div'); h.className = 'bp-stepper-eq'; h.textContent = s.equation;
    h.style.cssText = 'font:15px serif;margin:6px 0 4px';
    const shape = document.createElement('div'); shape.textContent = `shape ${s.shape}`; shape.style.cssText = 'font:12px sans-serif;color:#555';
    const gap = document.createElement('div'); gap.className = 'bp-stepper-gap'; gap.style.cssText = 'font:12px sans-serif;margin-top:4px';
    gap.textContent = `largest |ours − ${who}| = ${s.gap.toExponential(1)}`;
    const cols = document.createElement('div'); cols.className = 'bp-stepper-cols'; cols.style.cssText = 'display:flex;gap:32px;margin-top:4px';
    cols.append(column(`ours (${s.label})`, s.value), column(who, s.reference));
    detail.append(h, shape, cols, gap);
  }
  model.on('change:index', draw); model.on('change:steps', draw);
  draw();
}

export default { render };
