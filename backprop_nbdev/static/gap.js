// The network view's 'gap' mode (24_your_backward): each wire coloured by how far a learner's
// gradient is from autograd's, as a multiple of the rounding bound (the kernel sends gap / bound).

// Green up to the bound (rounding explains it); above it, yellow to red by decades of the excess.
export const GAP = ['#2ca02c', '#e6b800', '#ff7f0e', '#d62728'];
export const GAP_STEPS = [1, 1e2, 1e4];

export function gapColour(r) {
  let k = 0;
  while (k < GAP_STEPS.length && !(r <= GAP_STEPS[k])) k++;   // NaN: the reddest
  return GAP[k];
}

// The modes the toggle steps through: the frame's own list, else weights and gradients.
export function nextMode(mode, modes) {
  const all = modes || ['weights', 'gradients'];
  return all[(all.indexOf(mode) + 1) % all.length];
}

// What the colours mean, bottom left; the largest gap, bottom right.
export function gapLegend(ctx, w, h, top, theme) {
  const y = h - 8;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'left';
  let x = 6;
  const names = ['≤ bound', '≤ 1e2', '≤ 1e4', 'more'];
  GAP.forEach((c, k) => {
    ctx.fillStyle = c;
    ctx.fillRect(x, y - 4, 14, 3);
    ctx.fillStyle = theme.ink;
    ctx.fillText(names[k], x + 17, y);
    x += 62;
  });
  ctx.fillText('wire colour: |yours − autograd| / rounding bound', x, y);
  ctx.textAlign = 'right';
  ctx.fillText(`largest ${top.toExponential(1)}× bound`, w - 6, y);
}
