// Buttons of the maintenance page → bms-params (1st output), bms-history (2nd), bms-control (3rd);
// the 4th tells the page what is running. Only these actions pass; `confirm` only as exactly true.
const pack = Number(msg.pack);
if (!Number.isInteger(pack) || pack < 1 || pack > 15) return null;
const busy = (text) => ({ topic: 'busy', payload: text });
switch (msg.topic) {
  case 'params-read': return [{ action: 'read', pack }, null, null, busy('reading parameters…')];
  case 'params-plan':
  case 'params-apply': {
    if (!msg.payload || typeof msg.payload !== 'object' || Array.isArray(msg.payload)) return null;
    const out = { action: 'write', pack, payload: msg.payload };
    if (msg.topic === 'params-apply' && msg.confirm === true) out.confirm = true;
    return [out, null, null, busy(out.confirm ? 'writing and reading back…' : 'planning…')];
  }
  case 'history': return [null, { action: 'download', pack }, null, busy('downloading the history log…')];
  case 'clock-read': return [null, null, { action: 'readClock', pack }, null];
  case 'clock-set': return [null, null, { action: 'setClock', pack }, null];
  case 'switch': {
    const allowed = ['chargeMos', 'dischargeMos', 'buzzer', 'ledAlarm', 'limiter', 'limiterLowGear'];
    if (!allowed.includes(msg.action) || typeof msg.payload !== 'boolean') return null;
    return [null, null, { action: msg.action, payload: msg.payload, pack }, null];
  }
  default: return null;
}
