// Bank page: the bank state (bms-parallel) and the active alarm list (bms-alarms, 2nd output) → one view.
const state = context.get('state') || { alarms: [] };
if (Array.isArray(msg.payload)) state.alarms = msg.payload;
else if (msg.payload && Array.isArray(msg.payload.packs)) state.bank = msg.payload;
else return null;
context.set('state', state);
const b = state.bank;
if (!b) return null;
const fixed = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
const signed = (v, d) => (typeof v === 'number' ? fixed(v, d).replace('-', '−') : '—');
const direction = b.current === null ? 'no data' : b.current > 0.5 ? 'charging' : b.current < -0.5 ? 'discharging' : 'idle';
let timeToGo = '—';
if (typeof b.current === 'number' && Math.abs(b.current) > 0.5) {
  const hours = b.current < 0 ? b.remainingAh / -b.current : Math.max(0, b.fullAh - b.remainingAh) / b.current;
  const h = Math.floor(hours);
  timeToGo = `${h} h ${String(Math.round((hours - h) * 60)).padStart(2, '0')} min ${b.current < 0 ? 'to empty' : 'to full'}`;
}
const extremes = (t, label) => (t ? { label, min: `${fixed(t.min.value, 1)} °C (${t.min.id})`, max: `${fixed(t.max.value, 1)} °C (${t.max.id})` } : null);
const missing = b.stalePacks || [];
msg.payload = {
  soc: fixed(b.soc, 1),
  socValue: b.soc,
  power: `${signed(b.power === null ? null : Math.abs(b.power), 0)} W`,
  direction,
  current: `${signed(b.current, 1)} A`,
  voltage: b.voltage ? `${fixed(b.voltage.mean, 2)} V` : '—',
  voltageRange: b.voltage ? `${fixed(b.voltage.min, 2)}–${fixed(b.voltage.max, 2)} V` : '',
  timeToGo,
  capacity: `${fixed(b.remainingAh, 1)} of ${fixed(b.fullAh, 1)} Ah`,
  packsOnline: b.packsOnline,
  packsExpected: b.packsExpected,
  missing,
  cells: b.cellVoltage ? {
    min: `${fixed(b.cellVoltage.min.value, 3)} V (${b.cellVoltage.min.id})`,
    max: `${fixed(b.cellVoltage.max.value, 3)} V (${b.cellVoltage.max.id})`,
    spread: `${Math.round(b.cellVoltage.spread * 1000)} mV`,
  } : null,
  temperatures: [extremes(b.temperature, 'cells'), extremes(b.mosfetTemperature, 'MOSFET'), extremes(b.ambientTemperature, 'ambient'), extremes(b.boardTemperature, 'BMS board')].filter(Boolean),
  alarms: state.alarms.map((a) => ({ pack: a.pack, code: a.code, level: a.level, text: a.text, since: String(a.since).slice(0, 19).replace('T', ' ') })),
  packs: b.packs.map((p) => ({
    pack: p.pack,
    online: p.online && !p.stale,
    soc: fixed(p.soc, 1),
    voltage: fixed(p.voltage, 2),
    current: signed(p.current, 1),
    mode: p.mode || (p.online ? '—' : 'offline'),
    level: p.alarmLevel,
    age: p.ageMs === null ? '—' : `${Math.round(p.ageMs / 1000)} s`,
  })),
};
return msg;
