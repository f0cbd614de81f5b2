// Writes examples/*.json. Kept as code so the flows stay consistent with each other.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const write = (name, flow) => writeFileSync(path.join(root, 'examples', name), `${JSON.stringify(flow, null, 2)}\n`);

const link = (id, port, packs = 'discover', interval = '2') => ({
  id, type: 'bms-link', name: 'simulated bank', port, baud: '9600', dialect: 'auto', mode: 'auto', packs, interval, timeout: '1000', gap: '50', allowWrites: false,
});
const comment = (id, z, x, y, name, info) => ({ id, type: 'comment', z, name, info, x, y, wires: [] });
const debug = (id, z, x, y, name) => ({ id, type: 'debug', z, name, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x, y, wires: [] });
const group = (id, name, width, order) => ({
  id, type: 'ui-group', name, page: 'demo-ui-page', width, height: '1', order, showTitle: true, className: '', visible: 'true', disabled: 'false', groupType: 'default',
});
const fn = (id, z, x, y, name, func, outputs = 1, wires = [[]]) => ({ id, type: 'function', z, name, func, outputs, noerr: 0, initialize: '', finalize: '', libs: [], x, y, wires });

// --- flows.json: the demo behind `npm start` ---------------------------------------------------
const z = 'demo-tab';
const demo = [
  { id: z, type: 'tab', label: 'LiFePO4 bank demo', disabled: false, info: 'A simulated 3-pack bank → pack, bank and alarm nodes → FlowFuse Dashboard 2 at /dashboard.' },
  comment('demo-about', z, 190, 40, 'Simulated 3-pack bank on tcp://127.0.0.1:4001', '`npm start` runs a simulated bank and points the bms-link here at it. Change the link\'s port to your master pack\'s serial port (or `npm start -- --port /dev/ttyUSB0`) for a real bank.'),
  link('demo-link', 'tcp://127.0.0.1:4001'),
  { id: 'demo-packs', type: 'bms-pack', z, name: 'every pack', link: 'demo-link', pack: 'all', topic: 'bms/<pack>', onlyOnChange: false, deadband: '0', x: 150, y: 120, wires: [['demo-cells', 'demo-pack-debug']] },
  { id: 'demo-bank', type: 'bms-parallel', z, name: 'bank', source: 'link', link: 'demo-link', stale: '15', packs: '', topic: 'bms/bank', x: 140, y: 240, wires: [['demo-soc', 'demo-power', 'demo-voltage', 'demo-temps', 'demo-rows', 'demo-alarms', 'demo-bank-debug']] },
  { id: 'demo-alarms', type: 'bms-alarms', z, name: 'alarms', raise: '5', clear: '10', include: '', exclude: '', minLevel: 'warning', topic: 'bms/alarms', x: 400, y: 460, wires: [['demo-alarm-debug'], ['demo-alarm-rows']] },
  fn('demo-cells', z, 420, 120, 'cells → bars', "// One bar per cell of every pack: keep each pack's cells and send them all together.\nconst p = msg.payload;\nconst cells = context.get('cells') || {};\nif (p.online && p.analog) cells[p.pack] = p.analog.cellVoltages.map((v, i) => ({ cell: `P${p.pack}C${String(i + 1).padStart(2, '0')}`, voltage: v, pack: `pack ${p.pack}` }));\nelse delete cells[p.pack];\ncontext.set('cells', cells);\nmsg.payload = Object.keys(cells).sort((a, b) => a - b).flatMap((k) => cells[k]);\nreturn msg;", 1, [['demo-chart']]),
  fn('demo-soc', z, 420, 200, 'SOC', 'if (msg.payload.soc === null) return null;\nmsg.payload = msg.payload.soc;\nreturn msg;', 1, [['demo-soc-gauge']]),
  fn('demo-power', z, 420, 240, 'power', "if (msg.payload.power === null) return null;\nmsg.payload = `${Math.round(msg.payload.power)} W (${msg.payload.current.toFixed(1)} A)`;\nreturn msg;", 1, [['demo-power-text']]),
  fn('demo-voltage', z, 420, 280, 'voltage', "const s = msg.payload;\nif (!s.voltage || !s.cellVoltage) return null;\nmsg.payload = `${s.voltage.mean.toFixed(2)} V · cells ${s.cellVoltage.min.value.toFixed(3)}–${s.cellVoltage.max.value.toFixed(3)} V (spread ${Math.round(s.cellVoltage.spread * 1000)} mV)`;\nreturn msg;", 1, [['demo-voltage-text']]),
  fn('demo-temps', z, 420, 320, 'temperatures', "const t = msg.payload.temperature;\nif (!t) return null;\nmsg.payload = `${t.min.value.toFixed(1)} °C (${t.min.id}) … ${t.max.value.toFixed(1)} °C (${t.max.id})`;\nreturn msg;", 1, [['demo-temp-text']]),
  fn('demo-rows', z, 420, 360, 'pack table', "msg.payload = msg.payload.packs.map((p) => ({ pack: p.pack, online: p.online ? 'yes' : 'no', soc: p.soc, voltage: p.voltage, current: p.current, alarms: p.alarmLevel }));\nreturn msg;", 1, [['demo-pack-table']]),
  fn('demo-alarm-rows', z, 650, 480, 'alarm list', "msg.payload = msg.payload.length ? msg.payload.map((a) => ({ pack: a.pack, code: a.code, level: a.level, text: a.text, since: a.since })) : [{ pack: '', code: '', level: 'all clear', text: 'no active alarms', since: '' }];\nreturn msg;", 1, [['demo-alarm-table']]),
  debug('demo-pack-debug', z, 420, 80, 'pack readings'),
  { id: 'demo-alarm-start', type: 'inject', z, name: 'none yet', props: [{ p: 'payload' }], repeat: '', crontab: '', once: true, onceDelay: 0.5, topic: '', payload: '[]', payloadType: 'json', x: 420, y: 520, wires: [['demo-alarm-rows']] },
  debug('demo-bank-debug', z, 420, 400, 'bank state'),
  debug('demo-alarm-debug', z, 650, 440, 'alarm changes'),
  { id: 'demo-ui-base', type: 'ui-base', name: 'Battery', path: '/dashboard', appIcon: '', includeClientData: true, acceptsClientConfig: ['ui-notification', 'ui-control'], showPathInSidebar: false, headerContent: 'page', navigationStyle: 'default', titleBarStyle: 'default', showReconnectNotification: true, notificationDisplayTime: 1, showDisconnectNotification: true, allowInstall: false },
  { id: 'demo-ui-theme', type: 'ui-theme', name: 'Battery theme', colors: { surface: '#2e7d32', primary: '#43a047', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' }, sizes: { density: 'default', pagePadding: '12px', groupGap: '12px', groupBorderRadius: '4px', widgetGap: '12px' } },
  { id: 'demo-ui-page', type: 'ui-page', name: 'Bank', ui: 'demo-ui-base', path: '/bank', icon: 'battery', layout: 'grid', theme: 'demo-ui-theme', breakpoints: [{ name: 'Default', px: '0', cols: '3' }, { name: 'Tablet', px: '576', cols: '6' }, { name: 'Small Desktop', px: '768', cols: '9' }, { name: 'Desktop', px: '1024', cols: '12' }], order: 1, className: '', visible: 'true', disabled: 'false' },
  group('demo-group-bank', 'Bank', '4', 1),
  group('demo-group-packs', 'Packs', '8', 2),
  group('demo-group-cells', 'Cell voltages', '12', 3),
  group('demo-group-alarms', 'Active alarms', '12', 4),
  { id: 'demo-soc-gauge', type: 'ui-gauge', z, name: 'SOC', group: 'demo-group-bank', order: 1, width: 4, height: 3, gtype: 'gauge-half', gstyle: 'needle', title: 'State of charge', units: '%', icon: '', prefix: '', suffix: '%', segments: [{ from: '0', color: '#e53935' }, { from: '20', color: '#fdd835' }, { from: '40', color: '#43a047' }], min: 0, max: 100, sizeThickness: 16, sizeGap: 4, sizeKeyThickness: 8, styleRounded: true, styleGlow: false, className: '', x: 650, y: 200, wires: [] },
  { id: 'demo-power-text', type: 'ui-text', z, group: 'demo-group-bank', order: 2, width: 0, height: 0, name: 'power', label: 'Power', format: '{{msg.payload}}', layout: 'row-spread', style: false, font: '', fontSize: 16, color: '#717171', wrapText: false, className: 'bms-power', x: 650, y: 240, wires: [] },
  { id: 'demo-voltage-text', type: 'ui-text', z, group: 'demo-group-bank', order: 3, width: 0, height: 0, name: 'voltage', label: 'Voltage', format: '{{msg.payload}}', layout: 'row-spread', style: false, font: '', fontSize: 16, color: '#717171', wrapText: true, className: 'bms-voltage', x: 650, y: 280, wires: [] },
  { id: 'demo-temp-text', type: 'ui-text', z, group: 'demo-group-bank', order: 4, width: 0, height: 0, name: 'temperatures', label: 'Temperatures', format: '{{msg.payload}}', layout: 'row-spread', style: false, font: '', fontSize: 16, color: '#717171', wrapText: true, className: 'bms-temps', x: 670, y: 320, wires: [] },
  { id: 'demo-pack-table', type: 'ui-table', z, group: 'demo-group-packs', name: 'packs', label: 'Packs', order: 1, width: 0, height: 0, maxrows: 0, passthru: false, autocols: true, showSearch: false, deselect: true, selectionType: 'none', columns: [], mobileBreakpoint: 'sm', mobileBreakpointType: 'defaults', action: 'replace', className: 'bms-packs', x: 650, y: 360, wires: [[]] },
  { id: 'demo-chart', type: 'ui-chart', z, group: 'demo-group-cells', name: 'cells', label: 'Cell voltages (V)', order: 1, chartType: 'bar', category: 'pack', categoryType: 'property', xAxisLabel: '', xAxisProperty: 'cell', xAxisPropertyType: 'property', xAxisType: 'category', xAxisFormat: '', xAxisFormatType: 'auto', xmin: '', xmax: '', yAxisLabel: 'V', yAxisProperty: 'voltage', yAxisPropertyType: 'property', ymin: '3', ymax: '3.6', bins: 10, action: 'replace', stackSeries: false, pointShape: 'circle', pointRadius: 4, showLegend: true, removeOlder: 1, removeOlderUnit: '3600', removeOlderPoints: '', colors: ['#43a047', '#1e88e5', '#fb8c00', '#8e24aa', '#e53935', '#00acc1', '#fdd835', '#6d4c41', '#3949ab'], textColor: ['#666666'], textColorDefault: true, gridColor: ['#e5e5e5'], gridColorDefault: true, width: 12, height: 8, className: 'bms-cells', interpolation: 'linear', x: 630, y: 120, wires: [[]] },
  { id: 'demo-alarm-table', type: 'ui-table', z, group: 'demo-group-alarms', name: 'alarms', label: 'Active alarms', order: 1, width: 0, height: 0, maxrows: 0, passthru: false, autocols: true, showSearch: false, deselect: true, selectionType: 'none', columns: [], mobileBreakpoint: 'sm', mobileBreakpointType: 'defaults', action: 'replace', className: 'bms-alarms', x: 870, y: 480, wires: [[]] },
];
write('flows.json', demo);

// --- single pack, debug only ---------------------------------------------------------------------
const s = 'single-tab';
write('single-pack-debug.json', [
  { id: s, type: 'tab', label: 'One pack', disabled: false, info: '' },
  comment('single-about', s, 170, 40, 'Read one pack, see everything it reports', 'Set the bms-link port to the pack\'s RS232 console. The inject reads the pack now; otherwise it is read every 5 s. Open the debug sidebar.'),
  link('single-link', '/dev/ttyUSB0', '1', '5'),
  { id: 'single-inject', type: 'inject', z: s, name: 'read now', props: [], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', x: 130, y: 100, wires: [['single-pack']] },
  { id: 'single-pack', type: 'bms-pack', z: s, name: '', link: 'single-link', pack: '1', topic: 'bms/<pack>', onlyOnChange: false, deadband: '0', x: 300, y: 100, wires: [['single-debug']] },
  debug('single-debug', s, 490, 100, 'pack 1'),
  { id: 'single-catch', type: 'catch', z: s, name: 'read errors', scope: ['single-pack'], uncaught: false, x: 130, y: 160, wires: [['single-error']] },
  debug('single-error', s, 330, 160, 'why a read failed'),
]);

// --- 15-pack bank --------------------------------------------------------------------------------
const b = 'bank15-tab';
write('bank-15-packs.json', [
  { id: b, type: 'tab', label: '15-pack bank', disabled: false, info: '' },
  comment('bank15-about', b, 200, 40, 'A bank of 15 packs through the master', 'The master (DIP address 1) reports every pack in one reply. Only on change with a 0.02 deadband keeps the message rate low. Packs older than 30 s are left out of the bank totals.'),
  link('bank15-link', '/dev/ttyUSB0', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', '10'),
  { id: 'bank15-packs', type: 'bms-pack', z: b, name: 'all 15', link: 'bank15-link', pack: 'all', topic: 'bms/<pack>', onlyOnChange: true, deadband: '0.02', x: 140, y: 100, wires: [['bank15-bank']] },
  { id: 'bank15-bank', type: 'bms-parallel', z: b, name: 'bank of 15', source: 'input', link: '', stale: '30', packs: '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', topic: 'bms/bank', x: 340, y: 100, wires: [['bank15-debug']] },
  debug('bank15-debug', b, 540, 100, 'bank state'),
]);

// --- alarms → notification -----------------------------------------------------------------------
const a = 'alarms-tab';
write('alarms-notification.json', [
  { id: a, type: 'tab', label: 'Alarm notifications', disabled: false, info: '' },
  comment('alarms-about', a, 200, 40, 'Alarm changes → a notification text', 'Raised after 10 s, cleared after 60 s, protections and faults only. Replace the debug node with an e-mail, Telegram or Pushover node.'),
  link('alarms-link', '/dev/ttyUSB0', 'discover', '5'),
  { id: 'alarms-bank', type: 'bms-parallel', z: a, name: '', source: 'link', link: 'alarms-link', stale: '30', packs: '', topic: 'bms/bank', x: 140, y: 100, wires: [['alarms-filter']] },
  { id: 'alarms-filter', type: 'bms-alarms', z: a, name: '', raise: '10', clear: '60', include: '', exclude: '', minLevel: 'protection', topic: 'bms/alarms', x: 330, y: 100, wires: [['alarms-text'], []] },
  fn('alarms-text', a, 520, 100, 'notification text', "const c = msg.payload;\nmsg.topic = `Battery pack ${c.pack}: ${c.text} ${c.state}`;\nmsg.payload = `${c.code} (${c.level}) ${c.state} on pack ${c.pack}, present since ${c.since}`;\nreturn msg;", 1, [['alarms-out']]),
  debug('alarms-out', a, 720, 100, 'notify'),
]);

// --- Victron GX: the bank as the GX's battery and BMS ------------------------------------------
const v = 'victron-tab';
write('victron-gx.json', [
  { id: v, type: 'tab', label: 'Victron GX battery', disabled: false, info: '' },
  comment('victron-about', v, 220, 40, 'The bank as com.victronenergy.battery on the GX', 'Runs in Node-RED on Venus OS Large. Shadow mode is on: the GX gets fixed limits while /Info/ChargeMode and /Info/ChargeLimitation show what charge control would set. Watch it for a few days (debug sidebar, GX device list), then switch shadow mode off. Enable DVCC on the GX. Keep serial-starter off the adapter (README, "Victron GX").'),
  link('victron-link', '/dev/ttyUSB0', 'discover', '5'),
  {
    id: 'victron-venus', type: 'bms-venus', z: v, name: 'GX battery', source: 'link', link: 'victron-link', bus: '', bankId: '', instance: '1', productName: '',
    shadow: true, packCharge: '50', packDischarge: '100', maxCharge: '', maxDischarge: '', cellMax: '3.45', cellFloat: '3.375', cellMin: '2.9',
    absorption: '15', interval: '5', lost: '300', doubtfulDischarge: '', releaseOnLoss: false, packServices: false, topic: 'bms/venus', x: 150, y: 100, wires: [['victron-debug']],
  },
  debug('victron-debug', v, 360, 100, 'published limits'),
  { id: 'victron-catch', type: 'catch', z: v, name: 'errors', scope: ['victron-venus'], uncaught: false, x: 130, y: 160, wires: [['victron-error']] },
  debug('victron-error', v, 340, 160, 'what went wrong'),
]);

// --- maintenance: parameters, history, clock and switches ---------------------------------------
const m = 'maint-tab';
const inject = (id, x, y, name, props, wires) => ({ id, type: 'inject', z: m, name, props, repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', x, y, wires: [wires] });
const p = (name, v, vt = 'json') => ({ p: name, v, vt });
write('maintenance.json', [
  { id: m, type: 'tab', label: 'Pack maintenance', disabled: false, info: '' },
  comment('maint-about', m, 240, 40, 'Parameters, history log, clock and switches of pack 1', 'Writes need "allow writes" on the bms-link (off here) and, for parameters, the admin password in the bms-params node. Parameter changes are dry runs until msg.confirm is true: read the plan in the debug sidebar first. Backups and the audit log go to lifepo4-bms/ in the Node-RED user directory.'),
  link('maint-link', '/dev/ttyUSB0', '1', '10'),
  inject('maint-read', 140, 100, 'read parameters', [p('action', 'read', 'str')], ['maint-params']),
  inject('maint-plan', 140, 140, 'plan: OV protect 3.65 V', [p('payload', '{"cellOverVoltage":{"alarm":3.55,"protect":3.65},"packOverVoltage":{"protect":58.4}}')], ['maint-params']),
  inject('maint-apply', 140, 180, 'apply it', [p('payload', '{"cellOverVoltage":{"alarm":3.55,"protect":3.65},"packOverVoltage":{"protect":58.4}}'), p('confirm', 'true', 'bool')], ['maint-params']),
  { id: 'maint-params', type: 'bms-params', z: m, name: '', link: 'maint-link', pack: '1', mode: 'dry-run', rating: '', topic: 'bms/params', x: 380, y: 140, wires: [['maint-result'], ['maint-audit']] },
  debug('maint-result', m, 580, 120, 'parameters / plan / result'),
  debug('maint-audit', m, 580, 160, 'audit'),
  inject('maint-history', 140, 260, 'new history records', [], ['maint-hist']),
  { id: 'maint-hist', type: 'bms-history', z: m, name: '', link: 'maint-link', pack: '1', format: 'records', topic: 'bms/history', x: 370, y: 260, wires: [['maint-records'], ['maint-progress']] },
  debug('maint-records', m, 580, 240, 'records'),
  debug('maint-progress', m, 580, 280, 'progress'),
  inject('maint-clock', 140, 340, 'clock drift', [p('action', 'readClock', 'str')], ['maint-control']),
  inject('maint-buzzer', 140, 380, 'buzzer off', [p('action', 'buzzer', 'str'), p('payload', 'false', 'bool')], ['maint-control']),
  inject('maint-inverter', 140, 420, 'inverter protocol', [p('action', 'readInverter', 'str')], ['maint-control']),
  { id: 'maint-control', type: 'bms-control', z: m, name: '', link: 'maint-link', pack: '1', dailyClock: false, topic: 'bms/control', x: 370, y: 380, wires: [['maint-control-out']] },
  debug('maint-control-out', m, 580, 380, 'read back from the pack'),
  { id: 'maint-catch', type: 'catch', z: m, name: 'refusals and errors', scope: ['maint-params', 'maint-hist', 'maint-control'], uncaught: false, x: 150, y: 480, wires: [['maint-errors']] },
  debug('maint-errors', m, 380, 480, 'why not'),
]);
