// Recording page: the days bms-record holds (topic "days") → a list with download links.
if (msg.topic !== 'days' || !msg.payload || !Array.isArray(msg.payload.days)) return null;
const s = msg.payload.stats || {};
const kb = (n) => `${Math.max(1, Math.round(n / 1000))} kB`;
// The download route of the bms-record node with this id (under Node-RED's httpNodeRoot, "/" by default).
const base = '/lfp-bms/record/demo-record';
msg.payload = {
  base,
  days: msg.payload.days.map((d) => ({ day: d.day, bank: kb(d.bankBytes), packs: kb(d.packsBytes) })),
  total: `${(s.bytes / 1e6).toFixed(2)} MB in ${s.days} day${s.days === 1 ? '' : 's'}`,
  waiting: s.bufferedSamples || 0,
  error: s.lastError || '',
  newest: msg.payload.days.length ? msg.payload.days[0].day : '',
  oldest: msg.payload.days.length ? msg.payload.days[msg.payload.days.length - 1].day : '',
};
return msg;
