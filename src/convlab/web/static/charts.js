// Line charts on a canvas for the Train tab: both axes with tick values and a label, the range
// from every point (a spike in the middle stays on the chart), each series as a line, and dots
// where there are few points (the accuracy of each epoch).

// About `count` round values covering [lo, hi] (1, 2 or 5 times a power of ten apart).
export function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// The smallest and largest finite value of `values` ([0, 1] when there is none).
export function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo <= hi ? [lo, hi] : [0, 1];
}

// lineChart(canvas, {series: [{points: [[x, y], …], color, dots}], x: [lo, hi], y: [lo, hi],
//   xlabel, ylabel, yfmt: (v) => text}); the canvas's dataset records the ranges drawn.
export function lineChart(canvas, { series, x, y, xlabel, ylabel, yfmt = (v) => String(v) }) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const left = 52, right = 10, top = 8, bottom = 36, pw = w - left - right, ph = h - top - bottom;
  const [x0, x1] = x, [y0, y1] = y;
  const X = (v) => left + ((v - x0) / ((x1 - x0) || 1)) * pw, Y = (v) => top + (1 - (v - y0) / ((y1 - y0) || 1)) * ph;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui"; ctx.lineWidth = 1;
  ctx.strokeStyle = "#e3e8ee"; ctx.fillStyle = "#526070";
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of ticks(y0, y1)) {
    ctx.beginPath(); ctx.moveTo(left, Y(v)); ctx.lineTo(left + pw, Y(v)); ctx.stroke();
    ctx.fillText(yfmt(v), left - 4, Y(v));
  }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const v of ticks(x0, x1, 5).filter(Number.isInteger)) ctx.fillText(String(v), X(v), top + ph + 3);
  ctx.strokeStyle = "#8a96a3"; ctx.strokeRect(left, top, pw, ph);
  ctx.fillText(xlabel, left + pw / 2, h - 14);
  ctx.save(); ctx.translate(11, top + ph / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(ylabel, 0, -6); ctx.restore();
  ctx.save(); ctx.beginPath(); ctx.rect(left, top, pw, ph); ctx.clip();
  for (const { points, color, dots } of series) {
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach(([a, b], i) => (i ? ctx.lineTo(X(a), Y(b)) : ctx.moveTo(X(a), Y(b))));
    ctx.stroke();
    if (dots) points.forEach(([a, b]) => { ctx.beginPath(); ctx.arc(X(a), Y(b), 3, 0, 7); ctx.fill(); });
  }
  ctx.restore();
  Object.assign(canvas.dataset, { x0, x1, y0, y1 });
}
