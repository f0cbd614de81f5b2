import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NODES,
  coreNode,
  helper,
  linkConfig,
  nextMessage,
  node,
  startServer,
  statusOf,
  stopServer,
} from '../helpers/red';
import { freePort } from '../helpers/red-process';
import { Observer, retained, startBroker, type Broker, type Received } from '../helpers/mosquitto';
import { startSim, type RunningSim } from '../helpers/sim';
import { CONFIG_KEYS } from '../homeassistant/schema';

/** What Home Assistant gets for the bank and for each simulated PACE pack (docs/home-assistant.md). */
const BANK_KEYS = [
  'alarm',
  'balancing',
  'cell_max',
  'cell_max_id',
  'cell_min',
  'cell_min_id',
  'cell_spread',
  'charged',
  'current',
  'discharged',
  'full_ah',
  'packs_expected',
  'packs_online',
  'power',
  'remaining_ah',
  'soc',
  'soh',
  'temp_max',
  'temp_min',
  'temp_mosfet_max',
  'voltage',
];
const PACK_KEYS = [
  'balancing',
  'cell_max',
  'cell_max_n',
  'cell_min',
  'cell_min_n',
  'cell_spread',
  'charge_mos',
  'current',
  'cycles',
  'design_ah',
  'discharge_mos',
  'fault',
  'full_ah',
  'heater',
  'mode',
  'power',
  'protection',
  'remaining_ah',
  'soc',
  'soh',
  'temp_ambient',
  'temp_cells_max',
  'temp_cells_min',
  'temp_mosfet',
  'voltage',
  'warning',
];
const BRIDGE = 'lifepo4-bms/status';

/**
 * The example flow (examples/home-assistant-mqtt.json) as shipped, pointed at the simulator and the
 * test's broker, polling every second; its comment, catch and debug nodes left out.
 */
function flow(sim: RunningSim, brokerPort: number, extra: object = {}): object[] {
  const example = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'examples', 'home-assistant-mqtt.json'), 'utf8'),
  ) as Record<string, unknown>[];
  return example
    .filter((n) => !['comment', 'catch', 'debug'].includes(n.type as string))
    .map((n) => {
      if (n.type === 'bms-link') return { ...n, ...linkConfig(n.id as string, sim.tcp) };
      if (n.type === 'mqtt-broker') return { ...n, broker: '127.0.0.1', port: String(brokerPort) };
      if (n.type === 'bms-mqtt') return { ...n, interval: '1', stale: '5', ...extra };
      return n;
    });
}

const parse = (m: Received): Record<string, unknown> => JSON.parse(m.payload) as Record<string, unknown>;

describe("bms-mqtt against a real broker (mosquitto) through Node-RED's mqtt nodes", function () {
  this.timeout(30_000);
  const nodes = [...NODES, coreNode('core/network/10-mqtt.js')];
  let sim: RunningSim;
  let broker: Broker | undefined;
  let observer: Observer | undefined;
  let userDir: string;

  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir, mqttReconnectTime: 300 });
    sim = await startSim({ packs: 3, current: -12 });
  });
  afterEach(async () => {
    await helper.unload();
    await observer?.close();
    observer = undefined;
    await broker?.stop();
    broker = undefined;
    await sim.stop();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });

  const serial = (n: number): string => sim.bank.pack(n).serial;
  const bankRoot = (): string => `lifepo4-bms/${serial(1)}`;
  // In broadcast mode the link reads the master's identity only: the other packs are named by the bank and their address.
  const packDevice = (n: number): string => `lfpbms_pack_${serial(1)}${n === 1 ? '' : `_${String(n)}`}`;

  it('retains one discovery config per entity for the bank and each pack, with states and classes Home Assistant reads', async () => {
    broker = await startBroker();
    observer = await Observer.connect(broker.url, ['homeassistant/#', 'lifepo4-bms/#']);
    const lastConfig = observer.next((m) => m.topic === `homeassistant/binary_sensor/${packDevice(3)}/warning/config`);
    const bankState = observer.next((m) => m.topic === `${bankRoot()}/bank/state`);
    await helper.load(nodes, flow(sim, broker.port));
    await lastConfig;
    const state = parse(await bankState);

    const configs = await retained(broker.url, 'homeassistant/#');
    const byDevice = new Map<string, string[]>();
    for (const [topic, payload] of configs) {
      const [, component, device, key] = topic.split('/');
      const config = JSON.parse(payload) as Record<string, unknown>;
      assert.equal(
        component,
        config.device_class === 'problem' || ['balancing', 'charge_mos', 'discharge_mos', 'heater'].includes(key ?? '')
          ? 'binary_sensor'
          : 'sensor',
      );
      for (const k of Object.keys(config)) assert.ok(CONFIG_KEYS.has(k), `${topic}: ${k}`);
      assert.equal(config.unique_id, `${device ?? ''}_${key ?? ''}`);
      assert.deepEqual(config.availability, [
        { topic: BRIDGE },
        { topic: `${bankRoot()}/bank/availability` },
        ...(device?.startsWith('lfpbms_pack_')
          ? [{ topic: `${bankRoot()}/pack0${String([1, 2, 3].find((n) => device === packDevice(n)))}/availability` }]
          : []),
      ]);
      byDevice.set(device ?? '', [...(byDevice.get(device ?? '') ?? []), key ?? '']);
    }
    assert.deepEqual([...byDevice.keys()].sort(), [`lfpbms_bank_${serial(1)}`, ...[1, 2, 3].map(packDevice)].sort());
    assert.deepEqual(byDevice.get(`lfpbms_bank_${serial(1)}`)?.sort(), BANK_KEYS);
    for (const n of [1, 2, 3]) assert.deepEqual(byDevice.get(packDevice(n))?.sort(), PACK_KEYS);

    // Values as the simulator sent them; power and current positive while discharging.
    const packs = [1, 2, 3].map((n) => sim.bank.pack(n).analog('pace'));
    const current = packs.reduce((sum, p) => sum + p.current, 0);
    assert.ok(current < 0);
    assert.equal(state.current, Math.round(-current * 10) / 10);
    assert.ok(typeof state.power === 'number' && state.power > 0);
    assert.deepEqual(Object.keys(state).sort(), BANK_KEYS);
    const available = await retained(broker.url, 'lifepo4-bms/#');
    assert.equal(available.get(BRIDGE), 'online');
    for (const device of ['bank', 'pack01', 'pack02', 'pack03'])
      assert.equal(available.get(`${bankRoot()}/${device}/availability`), 'online');

    // Home Assistant restarts: it says so on its status topic and gets every config again.
    const again = observer.next((m) => m.topic === `homeassistant/sensor/lfpbms_bank_${serial(1)}/voltage/config`);
    await observer.client.publishAsync('homeassistant/status', 'online');
    assert.equal(JSON.parse((await again).payload).name, 'Voltage');
  });

  it("a pack that stops answering goes unavailable (after the link's 3 silent polls) and comes back", async () => {
    broker = await startBroker();
    observer = await Observer.connect(broker.url, ['lifepo4-bms/#']);
    const online = observer.next((m) => m.topic === `${bankRoot()}/pack02/availability` && m.payload === 'online');
    await helper.load(nodes, flow(sim, broker.port));
    await online;
    const offline = observer.next((m) => m.topic === `${bankRoot()}/pack02/availability` && m.payload === 'offline');
    sim.bank.setOffline(2, true);
    await offline;
    assert.equal((await retained(broker.url, `${bankRoot()}/#`)).get(`${bankRoot()}/pack02/availability`), 'offline');
    // While it is silent, no state of it goes out.
    const statesSince = observer.messages.length;
    const bankUpdate = observer.next((m) => m.topic === `${bankRoot()}/bank/state`);
    await bankUpdate;
    assert.ok(observer.messages.slice(statesSince).every((m) => m.topic !== `${bankRoot()}/pack02/state`));
    const back = observer.next((m) => m.topic === `${bankRoot()}/pack02/availability` && m.payload === 'online');
    sim.bank.setOffline(2, false);
    await back;
  });

  it("when Node-RED stops, the broker's close message makes every entity unavailable", async () => {
    broker = await startBroker();
    observer = await Observer.connect(broker.url, ['lifepo4-bms/#']);
    const up = observer.next((m) => m.topic === `${bankRoot()}/bank/state`);
    await helper.load(nodes, flow(sim, broker.port));
    await up;
    const down = observer.next((m) => m.topic === BRIDGE && m.payload === 'offline');
    await helper.unload();
    await down;
    assert.equal((await retained(broker.url, 'lifepo4-bms/#')).get(BRIDGE), 'offline');
  });

  it('a removed node deletes its discovery configs and availability: no ghost entities', async () => {
    broker = await startBroker();
    observer = await Observer.connect(broker.url, ['homeassistant/#', 'lifepo4-bms/#']);
    const announced = observer.next((m) => m.topic === `${bankRoot()}/pack03/availability`);
    const full = flow(sim, broker.port);
    await helper.load(nodes, full);
    await announced;
    assert.ok((await retained(broker.url, 'homeassistant/#')).size > 50);
    assert.ok(existsSync(join(userDir, 'lifepo4-bms', 'mqtt-ha-mqtt.json')));
    const gone = observer.next((m) => m.topic === `${bankRoot()}/pack03/availability` && m.payload === '');
    await helper.setFlows(
      full.filter((n) => (n as { id: string }).id !== 'ha-mqtt'),
      'nodes',
    );
    await gone;
    assert.deepEqual([...(await retained(broker.url, 'homeassistant/#')).keys()], []);
    assert.deepEqual([...(await retained(broker.url, 'lifepo4-bms/#')).keys()], [BRIDGE]);
    assert.ok(!existsSync(join(userDir, 'lifepo4-bms', 'mqtt-ha-mqtt.json')));
  });

  it('energy counters only grow, across a restart of Node-RED', async () => {
    sim.bank.setCurrent(-150);
    broker = await startBroker();
    observer = await Observer.connect(broker.url, ['lifepo4-bms/#']);
    const counted = observer.next(
      (m) => m.topic === `${bankRoot()}/bank/state` && (parse(m).discharged as number) >= 0.002,
    );
    await helper.load(nodes, flow(sim, broker.port));
    await counted;
    await helper.unload();
    const before = observer.messages
      .filter((m) => m.topic === `${bankRoot()}/bank/state`)
      .map((m) => parse(m).discharged as number);
    for (let i = 1; i < before.length; i++) assert.ok((before[i] ?? 0) >= (before[i - 1] ?? 0), 'total_increasing');
    const lastBefore = before.at(-1) ?? 0;
    const first = observer.next((m) => m.topic === `${bankRoot()}/bank/state`);
    await helper.load(nodes, flow(sim, broker.port));
    const after = parse(await first);
    assert.ok((after.discharged as number) >= lastBefore, `${String(after.discharged)} < ${String(lastBefore)}`);
    assert.equal(after.charged, 0);
  });

  it("a broker that comes up after Node-RED still gets every config (announced on the broker's birth message)", async () => {
    const port = await freePort();
    await helper.load(nodes, flow(sim, port));
    // The bank is published into the void first: mqtt out drops messages while it is not connected.
    await statusOf('ha-mqtt', (s) => /3\/3 packs/.test(s.text ?? ''));
    broker = await startBroker(port);
    observer = await Observer.connect(broker.url, ['homeassistant/#']);
    await observer.next((m) => m.topic === `homeassistant/binary_sensor/${packDevice(3)}/warning/config`, true);
    assert.ok(node('ha-mqtt'));
  });
});

describe('bms-mqtt in a flow', function () {
  this.timeout(30_000);
  let sim: RunningSim;
  let userDir: string;
  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir });
    sim = await startSim({ packs: 3, current: -12 });
  });
  afterEach(async () => {
    await helper.unload();
    await sim.stop();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });

  interface Out {
    payload: string;
    topic: string;
    retain: boolean;
  }
  const batch = (id: string, where: (msgs: Out[]) => boolean): Promise<Out[]> =>
    new Promise((resolve) => {
      const sink = node(id) as unknown as NodeJS.EventEmitter;
      const listener = (msg: Out): void => {
        collected.push(msg);
        if (!where(collected)) return;
        sink.removeListener('input', listener);
        resolve(collected);
      };
      const collected: Out[] = [];
      sink.on('input', listener);
    });

  it('takes bms-parallel bank states, bms-pack readings and bms-venus reports on its input; refuses anything else with a one-line error', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      linkConfig('l', sim.tcp),
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', packs: '', wires: [['m']] },
      {
        id: 'm',
        type: 'bms-mqtt',
        z: 'f',
        source: 'input',
        bankId: 'garage',
        bankName: 'Garage',
        interval: '1',
        stale: '30',
        wires: [['h']],
      },
      { id: 'c', type: 'catch', z: 'f', scope: ['m'], uncaught: false, wires: [['e']] },
      { id: 'h', type: 'helper', z: 'f' },
      { id: 'e', type: 'helper', z: 'f' },
    ]);
    const first = await batch('h', (msgs) => msgs.some((m) => m.topic === 'lifepo4-bms/garage/pack03/state'));
    const config = first.find((m) => m.topic === 'homeassistant/sensor/lfpbms_bank_garage/soc/config');
    assert.equal(config?.retain, true);
    assert.equal((JSON.parse(config.payload) as { device: { name: string } }).device.name, 'Garage');
    assert.equal(first.find((m) => m.topic === 'lifepo4-bms/garage/bank/state')?.retain, false);

    const control = batch('h', (msgs) => msgs.some((m) => m.topic === 'lifepo4-bms/garage/bank/control'));
    node('m').receive({
      topic: 'bms/venus',
      payload: {
        stage: 0,
        stageText: 'all packs fresh',
        modeText: 'bulk',
        published: { cvl: 55.2, ccl: 50, dcl: 100 },
      },
    });
    assert.equal(
      JSON.parse((await control).find((m) => m.topic === 'lifepo4-bms/garage/bank/control')?.payload ?? '{}').ccl,
      50,
    );

    for (const [payload, problem] of [
      ['online', /^Error: bms-mqtt: msg.payload is none of/],
      [JSON.parse('{"__proto__": {"packs": []}, "packsOnline": "3"}'), /^Error: bms-mqtt: msg.payload is none of/],
      [{ pack: 1, online: 'yes' }, /^Error: bms-mqtt: msg.payload is none of/],
    ] as const) {
      const caught = nextMessage<{ error?: { message: string } }>('e');
      node('m').receive({ payload });
      assert.match((await caught).error?.message ?? '', problem);
    }
    // Still working: the next bank state still goes out.
    await batch('h', (msgs) => msgs.some((m) => m.topic === 'lifepo4-bms/garage/bank/state'));
  });

  it('from bms-pack readings, one at a time, it builds the bank itself', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      linkConfig('l', sim.tcp),
      { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: 'all', wires: [['m']] },
      {
        id: 'm',
        type: 'bms-mqtt',
        z: 'f',
        source: 'input',
        bankId: 'shed',
        interval: '1',
        stale: '30',
        wires: [['h']],
      },
      { id: 'h', type: 'helper', z: 'f' },
    ]);
    const out = await batch('h', (msgs) =>
      msgs.some(
        (m) =>
          m.topic === 'lifepo4-bms/shed/bank/state' &&
          (JSON.parse(m.payload) as { packs_online: number }).packs_online === 3,
      ),
    );
    const state = JSON.parse(out.filter((m) => m.topic === 'lifepo4-bms/shed/bank/state').at(-1)?.payload ?? '{}') as {
      current: number;
    };
    const truth = [1, 2, 3].map((n) => sim.bank.pack(n).analog('pace').current).reduce((a, b) => a + b, 0);
    assert.equal(state.current, Math.round(-truth * 10) / 10);
  });

  it('a bad configuration names what is wrong, in the status and on every input', async () => {
    for (const [extra, reason] of [
      [{ base: 'lifepo4/#' }, 'base topic must not contain + or #'],
      [{ bankId: 'my bank' }, 'bank id may hold only letters, digits, _ and -'],
      [{ interval: '0' }, 'interval must be 1..3600 s'],
      [{ source: 'link', link: '' }, 'no bms-link configured'],
    ] as const) {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        { id: 'm', type: 'bms-mqtt', z: 'f', source: 'input', interval: '10', stale: '30', ...extra, wires: [[]] },
        { id: 'c', type: 'catch', z: 'f', scope: ['m'], uncaught: false, wires: [['e']] },
        { id: 'e', type: 'helper', z: 'f' },
      ]);
      assert.deepEqual(node('m').status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: reason });
      const caught = nextMessage<{ error?: { message: string } }>('e');
      node('m').receive({ payload: {} });
      assert.equal((await caught).error?.message, `Error: bms-mqtt: ${reason}`);
      await helper.unload();
    }
  });
});
