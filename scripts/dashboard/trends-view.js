// Trends page: bms-record's trend (topic "trend": the last 24 h, also after a restart) and each new
// sample (topic "sample") → three series as SVG paths.
let points = context.get('points') || [];
if (msg.topic === 'trend' && Array.isArray(msg.payload)) points = msg.payload.slice();
else if (msg.topic === 'sample' && msg.payload && typeof msg.payload.time === 'number') points.push(msg.payload);
else return null;
const since = Date.now() - 24 * 3600 * 1000;
points = points.filter((p) => p.time >= since);
context.set('points', points);
const W = 600;
const H = 120;
const series = (key, unit, decimals) => {
  const values = points.filter((p) => typeof p[key] === 'number');
  if (!values.length) return { key, unit, path: '', min: '—', max: '—', last: '—', count: 0 };
  const ys = values.map((p) => p[key]);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const t0 = values[0].time;
  const span = Math.max(1, values[values.length - 1].time - t0);
  const path = values.map((p, i) => `${i ? 'L' : 'M'}${((p.time - t0) / span * W).toFixed(1)},${(H - (p[key] - lo) / (hi - lo) * H).toFixed(1)}`).join(' ');
  const f = (v) => v.toFixed(decimals).replace('-', '−');
  return { key, unit, path, min: f(Math.min(...ys)), max: f(Math.max(...ys)), last: f(ys[ys.length - 1]), count: values.length };
};
const time = (ms) => new Date(ms).toTimeString().slice(0, 5);
msg.payload = {
  from: points.length ? time(points[0].time) : '—',
  to: points.length ? time(points[points.length - 1].time) : '—',
  samples: points.length,
  charts: [
    { title: 'State of charge', ...series('soc', '%', 1) },
    { title: 'Bank power (+ charging, − discharging)', ...series('power', 'W', 0) },
    { title: 'Cell spread', ...series('spreadMv', 'mV', 0) },
  ],
};
return msg;
