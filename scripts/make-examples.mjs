// Writes examples/*.json. Kept as code so the flows stay consistent with each other.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const write = (name, flow) => writeFileSync(path.join(root, 'examples', name), `${JSON.stringify(flow, null, 2)}\n`);

// Each example's link is named for what it is: several imported examples stay apart in the config sidebar.
const link = (id, name, port, packs = 'discover', interval = '2') => ({
  id, type: 'bms-link', name, port, baud: '9600', dialect: 'auto', mode: 'auto', packs, interval, timeout: '1000', gap: '50', allowWrites: false,
});
const comment = (id, z, x, y, name, info) => ({ id, type: 'comment', z, name, info, x, y, wires: [] });
const debug = (id, z, x, y, name, active = true) => ({ id, type: 'debug', z, name, active, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x, y, wires: [] });
const group = (id, name, width, order) => ({
  id, type: 'ui-group', name, page: 'demo-ui-page', width, height: '1', order, showTitle: true, className: '', visible: 'true', disabled: 'false', groupType: 'default',
});
const fn = (id, z, x, y, name, func, outputs = 1, wires = [[]]) => ({ id, type: 'function', z, name, func, outputs, noerr: 0, initialize: '', finalize: '', libs: [], x, y, wires });

// --- flows.json: the demo behind `npm start` ---------------------------------------------------
// The dashboard's views and templates live in scripts/dashboard/ as plain files.
const dash = (name) => readFileSync(path.join(root, 'scripts', 'dashboard', name), 'utf8');
const z = 'demo-tab';
const page = (id, name, pagePath, icon, order) => ({
  id, type: 'ui-page', name, ui: 'demo-ui-base', path: pagePath, icon, layout: 'grid', theme: 'demo-ui-theme',
  breakpoints: [{ name: 'Default', px: '0', cols: '3' }, { name: 'Tablet', px: '576', cols: '6' }, { name: 'Small Desktop', px: '768', cols: '9' }, { name: 'Desktop', px: '1024', cols: '12' }],
  order, className: '', visible: 'true', disabled: 'false',
});
const pageGroup = (id, name, pageId) => ({ ...group(id, name, '12', 1), page: pageId });
const template = (id, x, y, name, groupId, file, wires = [[]]) => ({
  id, type: 'ui-template', z, group: groupId, page: '', ui: '', name, order: 1, width: '0', height: '0', head: '', format: dash(file),
  storeOutMessages: true, passthru: false, resendOnRefresh: true, templateScope: 'local', className: '', x, y, wires,
});
const every = (id, x, y, name, seconds, props, wires) => ({
  id, type: 'inject', z, name, props, repeat: String(seconds), crontab: '', once: true, onceDelay: 2, topic: '', x, y, wires: [wires],
});
const demo = [
  { id: z, type: 'tab', label: 'LiFePO4 bank demo', disabled: false, info: 'A simulated 3-pack bank → bank, pack, alarm, record and maintenance nodes → FlowFuse Dashboard 2 at /dashboard (pages Bank, Pack, Trends, Recording, Maintenance). Needs @flowfuse/node-red-dashboard (Dashboard 2) installed: npm start has it. The debug nodes for every reading are off (they would send several messages a second); switch them on to look.' },
  comment('demo-about', z, 190, 40, 'Simulated 3-pack bank on tcp://127.0.0.1:4001', '`npm start` runs a simulated bank and points the bms-link here at it. Change the link\'s port to your master pack\'s serial port (or `npm start -- --port /dev/ttyUSB0`) for a real bank. Writes are off: the Maintenance page says how to turn them on.'),
  link('demo-link', 'simulated bank', 'tcp://127.0.0.1:4001'),
  { id: 'demo-packs', type: 'bms-pack', z, name: 'every pack', link: 'demo-link', pack: 'all', topic: 'bms/<pack>', onlyOnChange: false, deadband: '0', x: 150, y: 100, wires: [['demo-pack-debug']] },
  debug('demo-pack-debug', z, 390, 100, 'pack readings', false),
  { id: 'demo-bank', type: 'bms-parallel', z, name: 'bank', source: 'link', link: 'demo-link', stale: '15', packs: '', topic: 'bms/bank', x: 140, y: 180, wires: [['demo-bank-view', 'demo-pack-view', 'demo-alarms', 'demo-record', 'demo-bank-debug']] },
  debug('demo-bank-debug', z, 390, 140, 'bank state', false),
  { id: 'demo-alarms', type: 'bms-alarms', z, name: 'alarms', raise: '5', clear: '10', include: '', exclude: '', minLevel: 'warning', offline: 'fault', topic: 'bms/alarms', x: 390, y: 260, wires: [['demo-alarm-debug'], ['demo-bank-view']] },
  debug('demo-alarm-debug', z, 610, 240, 'alarm changes'),
  fn('demo-bank-view', z, 620, 180, 'bank view', dash('bank-view.js'), 1, [['demo-bank-page']]),
  template('demo-bank-page', 840, 180, 'bank page', 'demo-group-bank', 'bank.vue'),
  fn('demo-pack-view', z, 620, 340, 'pack view', dash('pack-view.js'), 2, [['demo-pack-page'], ['demo-clock']]),
  template('demo-pack-page', 840, 320, 'pack page', 'demo-group-pack', 'pack.vue', [['demo-pack-view']]),
  every('demo-clock-tick', 390, 380, 'every minute', 60, [{ p: 'topic', v: 'tick', vt: 'str' }], ['demo-pack-view']),
  { id: 'demo-clock', type: 'bms-control', z, name: 'BMS clock', link: 'demo-link', pack: '1', dailyClock: false, topic: 'clock', x: 840, y: 380, wires: [['demo-pack-view']] },
  { id: 'demo-record', type: 'bms-record', z, name: 'record', dir: '', bankEvery: '60', packsEvery: '300', keepDays: '62', maxMb: '100', flushEvery: '60', http: true, x: 390, y: 460, wires: [['demo-trends-view'], ['demo-recording-view']] },
  every('demo-days', 150, 460, 'days on disk', 60, [{ p: 'action', v: 'days', vt: 'str' }], ['demo-record']),
  fn('demo-trends-view', z, 620, 440, 'trends view', dash('trends-view.js'), 1, [['demo-trends-page']]),
  template('demo-trends-page', 840, 440, 'trends page', 'demo-group-trends', 'trends.vue'),
  fn('demo-recording-view', z, 620, 500, 'recording view', dash('recording-view.js'), 1, [['demo-recording-page']]),
  template('demo-recording-page', 860, 500, 'recording page', 'demo-group-recording', 'recording.vue'),
  template('demo-maint-page', 160, 600, 'maintenance page', 'demo-group-maint', 'maintenance.vue', [['demo-maint-requests']]),
  fn('demo-maint-requests', z, 400, 600, 'maintenance requests', dash('maintenance-requests.js'), 4, [['demo-params'], ['demo-history'], ['demo-control'], ['demo-maint-view']]),
  { id: 'demo-params', type: 'bms-params', z, name: 'parameters', link: 'demo-link', pack: '1', mode: 'dry-run', rating: '', topic: 'bms/params', x: 630, y: 560, wires: [['demo-maint-view'], []] },
  { id: 'demo-history', type: 'bms-history', z, name: 'history log', link: 'demo-link', pack: '1', format: 'records', topic: 'bms/history', x: 630, y: 600, wires: [['demo-maint-view'], ['demo-maint-view']] },
  { id: 'demo-control', type: 'bms-control', z, name: 'clock and switches', link: 'demo-link', pack: '1', dailyClock: false, topic: 'bms/control', x: 650, y: 640, wires: [['demo-maint-view']] },
  { id: 'demo-maint-catch', type: 'catch', z, name: 'refusals', scope: ['demo-params', 'demo-history', 'demo-control'], uncaught: false, x: 630, y: 680, wires: [['demo-maint-view']] },
  fn('demo-maint-view', z, 880, 620, 'maintenance view', dash('maintenance-view.js'), 1, [['demo-maint-page']]),
  { id: 'demo-ui-base', type: 'ui-base', name: 'Battery', path: '/dashboard', appIcon: '', includeClientData: true, acceptsClientConfig: ['ui-notification', 'ui-control'], showPathInSidebar: false, headerContent: 'page', navigationStyle: 'default', titleBarStyle: 'default', showReconnectNotification: true, notificationDisplayTime: 1, showDisconnectNotification: true, allowInstall: false },
  { id: 'demo-ui-theme', type: 'ui-theme', name: 'Battery theme', colors: { surface: '#2e7d32', primary: '#43a047', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' }, sizes: { density: 'default', pagePadding: '8px', groupGap: '8px', groupBorderRadius: '4px', widgetGap: '8px' } },
  { id: 'demo-ui-style', type: 'ui-template', z, group: '', page: '', ui: 'demo-ui-base', name: 'battery style', order: 0, width: 0, height: 0, head: '', format: dash('style.css'), storeOutMessages: true, passthru: false, resendOnRefresh: true, templateScope: 'site:style', className: '', x: 150, y: 720, wires: [[]] },
  page('demo-page-bank', 'Bank', '/bank', 'battery', 1),
  page('demo-page-pack', 'Pack', '/pack', 'battery-outline', 2),
  page('demo-page-trends', 'Trends', '/trends', 'chart-line', 3),
  page('demo-page-recording', 'Recording', '/recording', 'database', 4),
  page('demo-page-maint', 'Maintenance', '/maintenance', 'wrench', 5),
  pageGroup('demo-group-bank', 'Bank', 'demo-page-bank'),
  pageGroup('demo-group-pack', 'Pack', 'demo-page-pack'),
  pageGroup('demo-group-trends', 'Trends over 24 h', 'demo-page-trends'),
  pageGroup('demo-group-recording', 'Recording', 'demo-page-recording'),
  pageGroup('demo-group-maint', 'Maintenance', 'demo-page-maint'),
];
write('flows.json', demo);

// --- single pack, debug only ---------------------------------------------------------------------
const s = 'single-tab';
write('single-pack-debug.json', [
  { id: s, type: 'tab', label: 'One pack', disabled: false, info: '' },
  comment('single-about', s, 170, 40, 'Read one pack, see everything it reports', 'Set the bms-link port to the pack\'s RS232 console. The inject reads the pack now; otherwise it is read every 5 s. Open the debug sidebar.'),
  link('single-link', 'one pack on /dev/ttyUSB0', '/dev/ttyUSB0', '1', '5'),
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
  link('bank15-link', '15-pack bank on /dev/ttyUSB0', '/dev/ttyUSB0', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', '10'),
  { id: 'bank15-packs', type: 'bms-pack', z: b, name: 'all 15', link: 'bank15-link', pack: 'all', topic: 'bms/<pack>', onlyOnChange: true, deadband: '0.02', x: 140, y: 100, wires: [['bank15-bank']] },
  { id: 'bank15-bank', type: 'bms-parallel', z: b, name: 'bank of 15', source: 'input', link: '', stale: '30', packs: '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15', topic: 'bms/bank', x: 340, y: 100, wires: [['bank15-debug']] },
  debug('bank15-debug', b, 540, 100, 'bank state'),
]);

// --- alarms → notification -----------------------------------------------------------------------
const a = 'alarms-tab';
write('alarms-notification.json', [
  { id: a, type: 'tab', label: 'Alarm notifications', disabled: false, info: '' },
  comment('alarms-about', a, 200, 40, 'Alarm changes → a notification text', 'Raised after 10 s, cleared after 60 s, protections and faults only. Replace the debug node with an e-mail, Telegram or Pushover node.'),
  link('alarms-link', 'bank for alarms on /dev/ttyUSB0', '/dev/ttyUSB0', 'discover', '5'),
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
  link('victron-link', 'GX bank on /dev/ttyUSB0', '/dev/ttyUSB0', 'discover', '5'),
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
  link('maint-link', 'pack to maintain on /dev/ttyUSB0', '/dev/ttyUSB0', '1', '10'),
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

// --- Home Assistant over MQTT ---------------------------------------------------------------------
const h = 'ha-tab';
const BRIDGE = 'lifepo4-bms/status';
const mqttIn = (id, x, y, name, topic) => ({
  id, type: 'mqtt in', z: h, name, topic, qos: '0', datatype: 'utf8', broker: 'ha-broker', nl: false, rap: true, rh: 0, inputs: 0, x, y, wires: [['ha-mqtt']],
});
write('home-assistant-mqtt.json', [
  { id: h, type: 'tab', label: 'Home Assistant (MQTT)', disabled: false, info: '' },
  comment('ha-about', h, 230, 40, 'The bank and its packs as Home Assistant devices', 'Set the broker (the one Home Assistant\'s MQTT integration uses) and the link\'s port. The broker config sends "online" on lifepo4-bms/status when it connects and "offline" when Node-RED stops or the connection dies (its last will): every entity shows unavailable then. Home Assistant\'s own "online" on homeassistant/status and the broker\'s birth message make bms-mqtt send all its configs again. Power is positive while discharging (Home Assistant\'s "Standard"); Energy charged / discharged go into the Energy dashboard\'s battery entry.'),
  link('ha-link', 'Home Assistant bank on /dev/ttyUSB0', '/dev/ttyUSB0', 'discover', '5'),
  {
    id: 'ha-broker', type: 'mqtt-broker', name: 'Home Assistant broker', broker: 'homeassistant.local', port: '1883', clientid: '', autoConnect: true, usetls: false,
    protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true,
    birthTopic: BRIDGE, birthQos: '0', birthRetain: 'true', birthPayload: 'online', birthMsg: {},
    closeTopic: BRIDGE, closeQos: '0', closeRetain: 'true', closePayload: 'offline', closeMsg: {},
    willTopic: BRIDGE, willQos: '0', willRetain: 'true', willPayload: 'offline', willMsg: {}, userProps: '', sessionExpiry: '',
  },
  {
    id: 'ha-mqtt', type: 'bms-mqtt', z: h, name: 'Home Assistant', source: 'link', link: 'ha-link', bankName: 'Battery bank', bankId: '', manufacturer: '',
    prefix: 'homeassistant', base: 'lifepo4-bms', bridge: BRIDGE, interval: '10', stale: '30', cells: false, x: 400, y: 120, wires: [['ha-out']],
  },
  { id: 'ha-out', type: 'mqtt out', z: h, name: 'to the broker', topic: '', qos: '', retain: '', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'ha-broker', x: 620, y: 120, wires: [] },
  mqttIn('ha-restarted', 170, 100, 'Home Assistant restarted', 'homeassistant/status'),
  mqttIn('ha-connected', 170, 140, 'broker (re)connected', BRIDGE),
  { id: 'ha-catch', type: 'catch', z: h, name: 'errors', scope: ['ha-mqtt'], uncaught: false, x: 130, y: 200, wires: [['ha-errors']] },
  debug('ha-errors', h, 340, 200, 'what went wrong'),
]);
