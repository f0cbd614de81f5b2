// Pack page: the bank state, the pack chosen on the page (topic "select") and the BMS clock read by
// bms-control (topic "clock") → the chosen pack's view (1st output); a clock read of the chosen pack
// when it is chosen and every minute (topic "tick") → bms-control (2nd output).
const state = context.get('state') || { selected: 1, clocks: {} };
const readClock = () => ({ action: 'readClock', pack: state.selected });
if (msg.topic === 'tick') return [null, readClock()];
let clockRequest = null;
if (msg.topic === 'select') {
  const n = Number(msg.payload);
  if (!Number.isInteger(n) || n < 1 || n > 15) return null;
  state.selected = n;
  clockRequest = readClock();
} else if (msg.topic === 'clock' && msg.payload && typeof msg.payload.time === 'string') {
  state.clocks[msg.pack ?? msg.payload.pack ?? state.selected] = msg.payload;
} else if (msg.payload && Array.isArray(msg.payload.packs)) {
  state.bank = msg.payload;
} else return null;
context.set('state', state);
const b = state.bank;
if (!b) return [null, clockRequest];
const fixed = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
const p = b.packs.find((x) => x.pack === state.selected) || b.packs[0];
if (!p) return [null, clockRequest];
const a = p.analog;
const al = p.alarms;
const cells = a ? a.cellVoltages : [];
const min = cells.length ? Math.min(...cells) : null;
const max = cells.length ? Math.max(...cells) : null;
const balancing = new Set(al ? al.balancingCells : []);
const roles = (a && a.temperatureRoles) || [];
let cellSensor = 0;
const label = (i) => {
  const r = roles[i] || 'cell';
  if (r === 'cell') { cellSensor += 1; return `cell ${cellSensor}`; }
  return r === 'mosfet' ? 'MOSFET' : r === 'board' ? 'BMS board' : 'ambient';
};
const texts = {};
for (const x of b.alarms) texts[`${x.level}:${x.code}`] = x.text;
const codes = (list, level) => (list || []).map((c) => (texts[`${level}:${c}`] ? `${c} (${texts[`${level}:${c}`]})` : c));
const onOff = (v, on = 'on', off = 'off') => (v === null || v === undefined ? '—' : v ? on : off);
const st = (al && al.state) || {};
const clock = state.clocks[p.pack];
const identity = p.identity || {};
msg.payload = {
  packs: b.packs.map((x) => ({ pack: x.pack, online: x.online && !x.stale })),
  selected: p.pack,
  online: p.online && !p.stale,
  age: p.ageMs === null ? 'never read' : `${(p.ageMs / 1000).toFixed(1)} s`,
  cells: cells.map((v, i) => ({ n: i + 1, v: v.toFixed(3), min: v === min, max: v === max, balancing: balancing.has(i + 1) })),
  spread: min === null ? '—' : `${Math.round((max - min) * 1000)} mV`,
  temperatures: a ? a.temperatures.map((t, i) => ({ label: label(i), value: t === null ? 'absent' : `${t.toFixed(1)} °C` })) : [],
  figures: [
    ['SOC', `${fixed(a && a.soc, 1)} %`], ['SOH', `${fixed(a && a.soh, 1)} %`], ['cycles', a ? String(a.cycles) : '—'],
    ['voltage', `${fixed(a && a.voltage, 2)} V`], ['current', `${fixed(a && a.current, 2).replace('-', '−')} A`], ['state', p.mode || '—'],
    ['remaining', `${fixed(a && a.remainingAh, 2)} Ah`], ['full', `${fixed(a && a.fullAh, 2)} Ah`], ['design', `${fixed(a && a.designAh, 1)} Ah`],
  ],
  switches: [
    ['charge MOSFET', onOff(p.chargeMos)], ['discharge MOSFET', onOff(p.dischargeMos)],
    ['current limiter', st.limiterEnabled === null || st.limiterEnabled === undefined ? onOff(st.limiterActive, 'limiting', 'not limiting') : `${onOff(st.limiterEnabled, 'enabled', 'disabled')}${st.limiterActive ? ', limiting' : ''}`],
    ['limiter gear', st.limiterGear || '—'], ['heater', onOff(st.heater)], ['charger', onOff(st.chargerConnected, 'connected', 'not connected')],
    ['buzzer', onOff(st.buzzer, 'enabled', 'disabled')], ['LED alarm', onOff(st.ledAlarm, 'enabled', 'disabled')],
  ],
  alarms: codes(al && al.alarms, 'warning'),
  protections: codes(al && al.protections, 'protection'),
  faults: codes(al && al.faults, 'fault'),
  firmware: identity.firmware || '—',
  serial: identity.serial || '—',
  clock: clock ? `${clock.time} (${clock.driftSeconds >= 0 ? '+' : '−'}${Math.abs(clock.driftSeconds)} s against this host)` : 'not read yet',
};
return [msg, clockRequest];
