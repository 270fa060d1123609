// The frame protocol, page side: what a frame message holds, the loss series the page keeps, which
// frames to paint and when to acknowledge. No DOM here: board.js wires these to the page.
//
// The kernel sends frames at its own pace; the page answers only the frames marked `ack: true`, one
// every second and a half, with how many frames it has received and painted and its animation-frame
// rate. So the messages that reach the kernel (and make it report busy, then idle) do not grow with
// the frame rate.

export const CAP = 2000;   // most points kept per loss series; past it, every other one is dropped
export const DEPTH = 2;    // frames kept for painting: a late frame still finds one ready to paint

export const bytes = (dv) => new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
// copies, because a Float32Array or Float64Array needs an aligned offset, which a message buffer
// need not have
const copy = (dv) => dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength);
export const floats = (dv) => new Float32Array(copy(dv));
export const doubles = (dv) => new Float64Array(copy(dv));
// numbers that are not finite travel as null
export const num = (v) => (v == null ? NaN : v);

// A loss series in bounded memory: keeps every `stride`-th point pushed, and when it holds more
// than CAP, drops every other one and doubles `stride`. The newest point is always drawn (`tail`),
// kept or not. The kernel keeps the same series (LossSeries in Python) to send a view that opens
// later.
export function series() {
  const s = {};
  const even = (_, k) => k % 2 === 0;
  s.clear = () => Object.assign(s, {x: [], v: [], n: 0, stride: 1, tail: null});
  s.push = (x, v) => {
    s.tail = [x, v];
    if (s.n % s.stride === 0) {
      s.x.push(x);
      s.v.push(v);
    }
    s.n += 1;
    if (s.x.length > CAP) {
      s.stride *= 2;
      s.x = s.x.filter(even);
      s.v = s.v.filter(even);
    }
  };
  s.points = () => {
    const x = s.x.slice();
    const v = s.v.slice();
    if (s.tail && s.tail[0] !== x[x.length - 1]) {
      x.push(s.tail[0]);
      v.push(s.tail[1]);
    }
    return [x, v];
  };
  return s.clear();
}

// Every frame's losses go into the series when it arrives, even if its picture is never painted.
// Buffer 1: the new training losses; buffer 2 (only on a resync): their epochs.
export function addLosses(f, buffers, train, test) {
  if (f.reset) {
    train.clear();
    test.clear();
  }
  const v = buffers[1] ? floats(buffers[1]) : [];
  const x = f.reset && buffers[2] ? doubles(buffers[2]) : null;
  for (let k = 0; k < v.length; k++) train.push(x ? x[k] : f.start + k, v[k]);
  for (const [e, y] of f.test || []) test.push(e, num(y));
}

// The frames waiting for a paint: at most DEPTH, oldest first; the oldest is dropped for a new one.
export function frameQueue() {
  const q = {items: [], dropped: 0};
  q.put = (frame) => {
    q.items.push(frame);
    while (q.items.length > DEPTH) {
      q.items.shift();
      q.dropped += 1;
    }
  };
  q.take = () => q.items.shift() || null;
  q.clear = () => {
    q.items = [];
  };
  return q;
}

// The page's animation-frame rate: the median interval of its last 30 animation frames.
export function frameRate() {
  const r = {times: []};
  r.tick = (t) => {
    r.times.push(t);
    if (r.times.length > 31) r.times.shift();
  };
  r.reset = () => {
    r.times = [];
  };
  r.fps = () => {
    const d = r.times.slice(1).map((t, k) => t - r.times[k]).sort((a, b) => a - b);
    return d.length >= 5 ? 1000 / d[d.length >> 1] : null;
  };
  return r;
}

// Acknowledgements: a frame marked `ack` is answered when it arrives, painted or not, with the
// counts and the animation-frame rate the kernel paces itself by.
export function acker(send, rate) {
  const a = {received: 0, painted: 0};
  a.arrived = (f) => {
    a.received += 1;
    if (f.ack) a.answer(f.seq);
  };
  a.answer = (seq) => send({type: 'ack', seq, received: a.received, painted: a.painted,
                            fps: rate.fps()});
  return a;
}
