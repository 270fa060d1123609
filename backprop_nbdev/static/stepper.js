// The backward-pass stepper: the computation graph of the 2-3-1 network, walked one quantity at a
// time. All thirteen steps arrive at once as data (`steps`); Next and Back only move `index`, so
// stepping needs no kernel. The graph (positions, edges, labels) comes as `graph` and each step
// names its `node`: Python holds both. Colours come from JupyterLab's theme, so light and dark
// themes both read. anywidget >= 0.9: export default { render({model, el}) }.

const SVG = 'http://www.w3.org/2000/svg';
const INK = 'var(--jp-ui-font-color1, var(--vscode-editor-foreground, currentColor))';
const FAINT = 'var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #888))';
const PAPER = 'var(--jp-layout-color1, var(--vscode-editor-background, #fff))';
const HERE = {forward: '#ffe9a8', backward: '#ffc2c2'};   // the step's node; dark text on both
const DONE = 'var(--jp-layout-color3, #dde6ff)';

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function arrowHead() {
  const defs = svgEl('defs', {});
  const marker = svgEl('marker', {id: 'bp-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
                                  markerWidth: 6, markerHeight: 6, orient: 'auto'});
  marker.appendChild(svgEl('path', {d: 'M0,0 L10,5 L0,10 z', style: `fill:${FAINT}`}));
  defs.appendChild(marker);
  return defs;
}

function edge(a, b, r) {
  const [x0, y0] = a;
  const [x1, y1] = b;
  const d = Math.hypot(x1 - x0, y1 - y0);
  const dx = (x1 - x0) * r / d;
  const dy = (y1 - y0) * r / d;
  return svgEl('line', {x1: x0 + dx, y1: y0 + dy, x2: x1 - dx, y2: y1 - dy,
                        style: `stroke:${FAINT}`, 'marker-end': 'url(#bp-arrow)'});
}

function graph({pos, edges, labels}) {
  const svg = svgEl('svg', {width: 640, height: 140, class: 'bp-graph'});
  svg.appendChild(arrowHead());
  for (const [a, b] of edges) svg.appendChild(edge(pos[a], pos[b], 20));
  const nodes = {};
  for (const [k, [x, y]] of Object.entries(pos)) {
    const g = svgEl('g', {'data-node': k});
    g.appendChild(svgEl('circle', {cx: x, cy: y, r: 19, 'stroke-width': 1.5,
                                   style: `fill:${PAPER};stroke:${INK}`}));
    g.appendChild(svgEl('text', {x, y: y + 5, 'text-anchor': 'middle', 'font-size': 15,
                                 style: `fill:${INK}`}, labels[k]));
    svg.appendChild(g);
    nodes[k] = g;
  }
  return [svg, nodes];
}

const fmt = (v) => {
  if (typeof v !== 'number') return v == null ? 'null' : v;
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2);
};

function matrix(v) {
  const rows = Array.isArray(v) ? (Array.isArray(v[0]) ? v : [v]) : [[v]];
  const t = document.createElement('table');
  t.style.cssText = 'font:12px monospace;border-collapse:collapse';
  for (const r of rows) {
    const tr = t.insertRow();
    for (const x of r) {
      const td = tr.insertCell();
      td.textContent = fmt(x);
      td.style.cssText = 'padding:1px 8px;text-align:right';
    }
  }
  return t;
}

function div(cls, css, text) {
  const d = document.createElement('div');
  d.className = cls;
  d.style.cssText = css;
  if (text !== undefined) d.textContent = text;
  return d;
}

function column(title, v) {
  const d = div('', '');
  d.append(div('', 'font:bold 12px sans-serif;margin-bottom:2px', title), matrix(v));
  return d;
}

function button(cls, text) {
  const b = document.createElement('button');
  b.className = cls;
  b.textContent = text;
  return b;
}

// The detail under the graph: the step's equation, shape, our numbers and PyTorch's, the largest
// gap.
function detail(s) {
  const who = s.kind === 'forward' ? "PyTorch's own operations" : 'autograd';
  const cols = div('bp-stepper-cols', 'display:flex;gap:32px;margin-top:4px');
  cols.append(column(`ours (${s.label})`, s.value), column(who, s.reference));
  const shape = `shape ${s.shape}` + (s.form ? `, in general ${s.form}` : '');
  return [div('bp-stepper-eq', 'font:15px serif;margin:6px 0 4px', s.equation),
          div('', 'font:12px sans-serif;opacity:0.75', shape),
          cols,
          div('bp-stepper-gap', 'font:12px sans-serif;margin-top:4px',
              `largest |ours − ${who}| = ${s.gap.toExponential(1)}`)];
}

function render({model, el}) {
  el.classList.add('bp-stepper');
  el.style.color = INK;
  const [svg, nodes] = graph(model.get('graph'));
  const back = button('bp-stepper-back', '◀ Back');
  const next = button('bp-stepper-next', 'Next ▶');
  const where = document.createElement('span');
  where.className = 'bp-stepper-where';
  const bar = div('bp-stepper-bar', 'font:13px sans-serif;margin-top:4px');
  bar.append(back, next, where);
  const box = div('bp-stepper-detail', '');
  el.append(svg, bar, box);

  const move = (d) => {
    const n = model.get('steps').length;
    model.set('index', Math.min(n - 1, Math.max(0, model.get('index') + d)));
    model.save_changes();
  };
  back.onclick = () => move(-1);
  next.onclick = () => move(1);

  function draw() {
    const steps = model.get('steps');
    const i = model.get('index');
    const s = steps[i];
    const done = new Set(steps.slice(0, i).map((t) => t.node));
    for (const [k, g] of Object.entries(nodes)) {
      const c = g.querySelector('circle');
      const here = s.node === k;
      const fill = here ? HERE[s.kind] : done.has(k) ? DONE : PAPER;
      c.style.fill = fill;
      c.setAttribute('stroke-width', here ? 3 : 1.5);
      g.querySelector('text').style.fill = here ? '#000' : INK;
    }
    where.textContent = ` step ${i + 1} of ${steps.length}: ${s.kind} pass`;
    back.disabled = i === 0;
    next.disabled = i === steps.length - 1;
    box.replaceChildren(...detail(s));
  }
  model.on('change:index', draw);
  model.on('change:steps', draw);
  draw();
}

export default { render };
