// Maintenance page: what bms-params, bms-history and bms-control answer, and their errors (catch)
// → one view. Nothing here writes: the page's buttons go through "maintenance requests".
const s = context.get('state') || { log: [], records: [] };
const p = msg.payload;
const line = (text) => { s.log.unshift(`${new Date().toTimeString().slice(0, 8)} ${text}`); s.log.length = Math.min(s.log.length, 12); };
if (msg.error) {
  line(`refused: ${msg.error.message}`);
  s.busy = '';
} else if (p && p.parameters && p.action) {
  // bms-params result (one pack).
  s.busy = '';
  s.pack = p.pack;
  s.parameters = p.parameters;
  s.plan = p.plan ? { changes: p.plan.changes.map((c) => ({ field: c.field, from: String(c.from), to: String(c.to) })), warnings: p.plan.warnings || [] } : null;
  if (p.action === 'read') line(`pack ${p.pack}: parameters read`);
  else if (p.dryRun) line(`pack ${p.pack}: plan of ${p.plan ? p.plan.changes.length : 0} change(s), nothing written`);
  else if (p.result) {
    line(`pack ${p.pack}: ${p.result.ok ? `applied and read back: ${p.result.written.join(', ') || 'nothing to write'}` : `stopped: ${p.result.failed ? p.result.failed.reason : 'see the log'}`}; backup ${p.backupFile || '—'}`);
    s.plan = null;
  }
} else if (p && typeof p.time === 'string' && typeof p.driftSeconds === 'number') {
  line(`pack ${msg.pack ?? '?'} clock ${p.time}, ${p.driftSeconds >= 0 ? '+' : '−'}${Math.abs(p.driftSeconds)} s against this host`);
} else if (p && typeof p.switch === 'string') {
  line(`pack ${msg.pack ?? '?'} ${p.switch}: asked ${p.requested ? 'on' : 'off'}, the pack reports ${p.reported ? 'on' : 'off'}`);
} else if (Array.isArray(p)) {
  // bms-history records, newest first.
  s.records = p.concat(s.records).slice(0, 500);
  // The CSV is made when records arrive, not on every message the page gets.
  if (s.records.length) s.csv = ['time,voltage,current,remainingAh,fullAh,cycles,' + s.records[0].cellVoltages.map((_, i) => `cell${i + 1}`).join(',') + ',alarms,protections,faults']
    .concat(s.records.map((r) => [r.time, r.voltage, r.current, r.remainingAh, r.fullAh, r.cycles, ...r.cellVoltages, r.alarms.join(' '), r.protections.join(' '), r.faults.join(' ')].join(','))).join('\n');
  s.historyDone = msg.complete === true;
  line(`pack ${msg.pack ?? '?'}: ${p.length} new history record(s)${msg.complete ? ', whole log read' : ''}`);
} else if (p && typeof p.done === 'number') {
  s.progress = p.total ? `${p.done} of ${p.total} records` : `${p.done} records so far`;
  if (p.total !== undefined) s.busy = '';
} else if (msg.topic === 'busy') {
  s.busy = String(p);
} else return null;
context.set('state', s);
const groups = s.parameters ? Object.keys(s.parameters).map((g) => ({
  group: g,
  fields: Object.keys(s.parameters[g]).map((f) => ({ field: f, value: s.parameters[g][f], kind: typeof s.parameters[g][f] })),
})) : [];
msg.payload = {
  pack: s.pack || 1,
  groups,
  plan: s.plan || null,
  log: s.log,
  busy: s.busy || '',
  progress: s.progress || '',
  records: s.records.slice(0, 50).map((r) => ({
    time: r.time, voltage: r.voltage.toFixed(2), current: r.current.toFixed(2),
    cells: `${Math.min(...r.cellVoltages).toFixed(3)}–${Math.max(...r.cellVoltages).toFixed(3)}`,
    codes: [...r.alarms, ...r.protections, ...r.faults].join(' ') || '—',
  })),
  recordCount: s.records.length,
  csv: s.csv || '',
};
return msg;
