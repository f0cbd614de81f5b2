import assert from 'node:assert/strict';
import { aggregateBank, type BankState, type PackInput } from '../../src/bank';
import {
  BANK_ENTITIES,
  EnergyCounter,
  HaPublisher,
  memoryFrom,
  type MqttMessage,
  type PublisherOptions,
} from '../../src/homeassistant';
import { SimulatedBank } from '../../src/sim';
import { simInputs } from '../helpers/venus';
import { CONFIG_KEYS, DEVICE_KEYS, UNITS_OF_CLASS } from './schema';

const INTERVAL = 10_000;
const options: PublisherOptions = {
  prefix: 'homeassistant',
  base: 'lifepo4-bms',
  fallbackId: 'node1',
  bankName: 'Garage bank',
  cells: false,
  intervalMs: INTERVAL,
  staleAfterMs: 30_000,
  bridgeTopic: 'lifepo4-bms/status',
};

const bankOf = (inputs: readonly PackInput[]): BankState => aggregateBank(inputs, { staleAfterMs: 30_000 });

const configs = (out: readonly MqttMessage[]): Map<string, Record<string, unknown>> =>
  new Map(
    out
      .filter((m) => m.topic.endsWith('/config') && m.payload)
      .map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]),
  );
const cleared = (out: readonly MqttMessage[]): string[] =>
  out
    .filter((m) => m.payload === '' && m.retain)
    .map((m) => m.topic)
    .sort();
const last = (out: readonly MqttMessage[], topic: string): MqttMessage | undefined =>
  out.filter((m) => m.topic === topic).at(-1);
const stateOf = (out: readonly MqttMessage[], topic: string): Record<string, unknown> => {
  const m = last(out, topic);
  assert.ok(m, `no message on ${topic}`);
  return JSON.parse(m.payload) as Record<string, unknown>;
};

describe('Home Assistant publisher', () => {
  let sim: SimulatedBank;
  beforeEach(() => {
    sim = new SimulatedBank({ packs: 3, seed: 7, current: -20 });
  });

  it('announces one bank device and one device per pack, named by serial, with configs Home Assistant accepts', () => {
    const publisher = new HaPublisher(options);
    const out = publisher.update(bankOf(simInputs(sim)), 0);
    const all = configs(out);
    const master = sim.pack(1).serial;
    assert.equal(publisher.id, master);
    const devices = new Map<string, Record<string, unknown>>();
    const uniqueIds = new Set<string>();
    for (const [topic, config] of all) {
      assert.match(
        topic,
        /^homeassistant\/(sensor|binary_sensor)\/lfpbms_(bank|pack)_[A-Za-z0-9_-]+\/[a-z0-9_]+\/config$/,
      );
      for (const key of Object.keys(config))
        assert.ok(CONFIG_KEYS.has(key), `${topic}: ${key} is not a documented discovery key`);
      const device = config.device as Record<string, unknown>;
      for (const key of Object.keys(device)) assert.ok(DEVICE_KEYS.has(key), `${topic}: device.${key}`);
      const id = (device.identifiers as string[])[0] ?? '';
      devices.set(id, device);
      assert.ok(!uniqueIds.has(config.unique_id as string), `unique_id ${String(config.unique_id)} twice`);
      uniqueIds.add(config.unique_id as string);
      // Units go with their device class as Home Assistant's list has them; energy is never a measurement.
      const cls = config.device_class as string | undefined;
      if (cls && topic.includes('/sensor/') && UNITS_OF_CLASS[cls])
        assert.ok(
          UNITS_OF_CLASS[cls].includes(config.unit_of_measurement as string),
          `${topic}: ${cls} in ${String(config.unit_of_measurement)}`,
        );
      if (cls === 'energy') assert.equal(config.state_class, 'total_increasing');
      if (cls === 'enum')
        assert.ok(!config.state_class && !config.unit_of_measurement && Array.isArray(config.options));
      assert.deepEqual(config.availability_mode, 'all');
      assert.ok((config.expire_after as number) >= 3 * (INTERVAL / 1000));
      // The template reads a field the state carries.
      const key = /^\{\{ value_json\.([a-z0-9_]+) \}\}$/.exec(config.value_template as string)?.[1];
      assert.ok(key, `${topic}: template ${String(config.value_template)}`);
      assert.ok(
        key in stateOf(out, config.state_topic as string),
        `${topic}: ${key} missing in ${String(config.state_topic)}`,
      );
    }
    assert.deepEqual(
      [...devices.keys()].sort(),
      [`lfpbms_bank_${master}`, ...[1, 2, 3].map((n) => `lfpbms_pack_${sim.pack(n).serial}`)].sort(),
    );
    for (const n of [1, 2, 3]) {
      const pack = devices.get(`lfpbms_pack_${sim.pack(n).serial}`) ?? {};
      assert.equal(pack.via_device, `lfpbms_bank_${master}`);
      assert.equal(pack.serial_number, sim.pack(n).serial);
      assert.equal(pack.name, `Garage bank pack ${String(n)}`);
    }
    // Configs come before any state, availability is retained, states are not.
    const firstState = out.findIndex((m) => m.topic.endsWith('/state'));
    assert.ok(out.slice(firstState).every((m) => !m.topic.endsWith('/config')));
    assert.ok(out.filter((m) => m.topic.endsWith('/availability')).every((m) => m.retain && m.payload === 'online'));
    assert.ok(
      out.every((m) => m.topic !== options.bridgeTopic),
      "the bridge topic is the broker connection's own",
    );
    assert.ok(out.filter((m) => m.topic.endsWith('/state')).every((m) => !m.retain));
  });

  it('power and current are positive while discharging (Home Assistant\'s "Standard"); values at display precision', () => {
    const publisher = new HaPublisher(options);
    const bank = bankOf(simInputs(sim));
    assert.ok(bank.current !== null && bank.current < 0 && bank.power !== null);
    const out = publisher.update(bank, 0);
    const state = stateOf(out, `lifepo4-bms/${sim.pack(1).serial}/bank/state`);
    assert.equal(state.power, Math.round(-bank.power));
    assert.equal(state.current, Math.round(-bank.current * 10) / 10);
    assert.equal(state.soc, Math.round(bank.soc ?? NaN));
    const pack2 = stateOf(out, `lifepo4-bms/${sim.pack(1).serial}/pack02/state`);
    const analog = sim.pack(2).analog('pace');
    assert.equal(pack2.current, Math.round(-analog.current * 10) / 10);
    assert.equal(pack2.cell_min, Math.min(...analog.cellVoltages));
    assert.equal(pack2.cell_min_n, analog.cellVoltages.indexOf(Math.min(...analog.cellVoltages)) + 1);
  });

  it('sends a state only when a value changed, at most once per interval, and unchanged every 3 intervals', () => {
    // At rest: under load the energy counters change with every reading.
    sim.setCurrent(0);
    const publisher = new HaPublisher(options);
    const topic = `lifepo4-bms/${sim.pack(1).serial}/bank/state`;
    publisher.update(bankOf(simInputs(sim)), 0);
    const sentAt = (t: number): boolean => publisher.update(bankOf(simInputs(sim)), t).some((m) => m.topic === topic);
    assert.equal(sentAt(5_000), false, 'nothing changed');
    sim.setCurrent(-0.3);
    assert.equal(sentAt(6_000), false, 'changed, but within the interval');
    assert.equal(sentAt(10_000), true, 'changed, interval over');
    assert.equal(sentAt(20_000), false, 'unchanged');
    assert.equal(sentAt(29_000), false, 'unchanged');
    assert.equal(sentAt(40_000), true, 'unchanged for 3 intervals: sent again before expire_after');
    // Below display precision is no change: 1 mA.
    sim.setCurrent(-0.301);
    assert.equal(sentAt(52_000), false);
  });

  it('a silent pack goes unavailable and gets no state; back, it is available again', () => {
    const publisher = new HaPublisher(options);
    const root = `lifepo4-bms/${sim.pack(1).serial}`;
    publisher.update(bankOf(simInputs(sim)), 0);
    const silent = simInputs(sim).map((p) => (p.pack === 2 ? { ...p, online: false } : p));
    const out = publisher.update(bankOf(silent), 40_000);
    assert.deepEqual(last(out, `${root}/pack02/availability`), {
      topic: `${root}/pack02/availability`,
      payload: 'offline',
      retain: true,
    });
    assert.equal(last(out, `${root}/pack02/state`), undefined);
    assert.ok(last(out, `${root}/pack01/state`));
    assert.equal(cleared(out).length, 0, 'its entities stay');
    const allSilent = publisher.update(bankOf(simInputs(sim).map((p) => ({ ...p, online: false }))), 42_000);
    assert.equal(last(allSilent, `${root}/bank/availability`)?.payload, 'offline', 'no pack fresh: the bank too');
    assert.equal(last(allSilent, `${root}/bank/state`), undefined);
    const back = publisher.update(bankOf(simInputs(sim)), 45_000);
    assert.equal(last(back, `${root}/bank/availability`)?.payload, 'online');
    assert.equal(last(back, `${root}/pack02/availability`)?.payload, 'online');
    assert.ok(last(back, `${root}/pack02/state`));
  });

  it('data that stop coming make bank and packs unavailable after the stale limit', () => {
    const publisher = new HaPublisher(options);
    const root = `lifepo4-bms/${sim.pack(1).serial}`;
    publisher.update(bankOf(simInputs(sim)), 0);
    assert.deepEqual(publisher.tick(30_000), []);
    const out = publisher.tick(30_001);
    assert.deepEqual(
      out.map((m) => `${m.topic}=${m.payload}`).sort(),
      ['bank', 'pack01', 'pack02', 'pack03'].map((d) => `${root}/${d}/availability=offline`),
    );
    assert.deepEqual(publisher.tick(31_000), [], 'once');
  });

  it('a pack that leaves the bank leaves no entities: its configs and availability are deleted', () => {
    const publisher = new HaPublisher(options);
    const first = publisher.update(bankOf(simInputs(sim)), 0);
    const pack3 = [...configs(first).keys()].filter((t) => t.includes(`lfpbms_pack_${sim.pack(3).serial}/`));
    assert.ok(pack3.length > 20);
    const out = publisher.update(bankOf(simInputs(sim, [1, 2])), 5_000);
    assert.deepEqual(cleared(out), [...pack3, `lifepo4-bms/${sim.pack(1).serial}/pack03/availability`].sort());
  });

  it("after a restart with a new bank id, the last run's topics are deleted; energy counters continue", () => {
    const first = new HaPublisher(options);
    first.update(bankOf(simInputs(sim)), 0);
    first.update(bankOf(simInputs(sim)), 5_000);
    const memory = memoryFrom(JSON.parse(JSON.stringify(first.memory())));
    assert.ok(memory.energy.dischargedWh > 0);
    const renamed = new HaPublisher({ ...options, bankId: 'garage' }, memory);
    const out = renamed.update(bankOf(simInputs(sim)), 3_600_000);
    // The bank's configs and the old topics' availability go; the packs keep their ids (serials).
    const master = sim.pack(1).serial;
    const old = first
      .memory()
      .retained.filter((t) => t.includes(`lfpbms_bank_${master}/`) || t.startsWith(`lifepo4-bms/${master}/`));
    assert.equal(old.length, BANK_ENTITIES.length + 4);
    assert.deepEqual(cleared(out), [...old].sort());
    assert.ok([...configs(out).keys()].every((t) => /lfpbms_bank_garage|lfpbms_pack_/.test(t)));
    const state = stateOf(out, 'lifepo4-bms/garage/bank/state');
    assert.equal(state.discharged, Math.round(memory.energy.dischargedWh) / 1000);
  });

  it('removed, it deletes everything it published; stopped, it marks its devices offline', () => {
    const publisher = new HaPublisher(options);
    const first = publisher.update(bankOf(simInputs(sim)), 0);
    const retained = first.filter((m) => m.retain).map((m) => m.topic);
    const stopped = publisher.stop(false);
    assert.ok(stopped.every((m) => m.topic.endsWith('/availability') && m.payload === 'offline'));
    assert.equal(stopped.length, 4);
    assert.deepEqual(cleared(publisher.stop(true)), [...new Set(retained)].sort());
  });

  it('announce sends every config, availability and fresh state again', () => {
    const publisher = new HaPublisher(options);
    const first = publisher.update(bankOf(simInputs(sim)), 0);
    assert.deepEqual(
      publisher.update(bankOf(simInputs(sim)), 1_000).filter((m) => m.topic.endsWith('/config')),
      [],
    );
    const again = publisher.announce(2_000);
    assert.deepEqual(new Set(again.map((m) => m.topic)), new Set(first.map((m) => m.topic)));
  });

  it('waits up to 3 updates for pack serials before naming the bank after the node', () => {
    const publisher = new HaPublisher(options);
    const noSerial = simInputs(sim).map((p) => ({ ...p, identity: null }));
    assert.deepEqual(publisher.update(bankOf(noSerial), 0), []);
    assert.deepEqual(publisher.update(bankOf(noSerial), 5_000), []);
    const out = publisher.update(bankOf(noSerial), 10_000);
    assert.equal(publisher.id, 'node1');
    assert.ok(configs(out).has('homeassistant/sensor/lfpbms_pack_node1_2/voltage/config'));
  });

  it('a serial several packs report names only the lowest address; the others are named by bank and address', () => {
    const inputs = simInputs(sim).map((p) => ({ ...p, identity: { serial: sim.pack(1).serial } }));
    const devices = new Set(
      [...configs(new HaPublisher(options).update(bankOf(inputs), 0)).keys()].map((t) => t.split('/')[2]),
    );
    const master = sim.pack(1).serial;
    assert.deepEqual([...devices].sort(), [
      `lfpbms_bank_${master}`,
      `lfpbms_pack_${master}`,
      `lfpbms_pack_${master}_2`,
      `lfpbms_pack_${master}_3`,
    ]);
  });

  it('pack serials with characters topics cannot carry are made safe', () => {
    sim.pack(2).serial = 'AB/+#\u0000 12';
    const out = new HaPublisher(options).update(bankOf(simInputs(sim)), 0);
    assert.ok(configs(out).has('homeassistant/sensor/lfpbms_pack_AB_____12/voltage/config'));
    assert.ok(out.every((m) => !/[+#]/.test(m.topic) && !m.topic.includes('\u0000')));
  });

  it('per-cell entities only when asked: voltage and balancing of each cell', () => {
    const out = new HaPublisher({ ...options, cells: true }).update(bankOf(simInputs(sim)), 0);
    const cells = [...configs(out).keys()].filter((t) => /\/cell_\d\d(_balancing)?\/config$/.test(t));
    assert.equal(cells.length, 3 * 2 * sim.pack(1).analog('pace').cellVoltages.length);
    const state = stateOf(out, `lifepo4-bms/${sim.pack(1).serial}/pack01/state`);
    assert.equal(state.cell_01, sim.pack(1).analog('pace').cellVoltages[0]);
  });

  it('bms-venus limits join the bank device', () => {
    const publisher = new HaPublisher(options);
    publisher.update(bankOf(simInputs(sim)), 0);
    const out = publisher.updateControl(
      { stage: 2, stageText: 'data doubtful', modeText: 'bulk', published: { cvl: 55.2, ccl: 0, dcl: 100 } },
      1_000,
    );
    assert.ok(configs(out).has(`homeassistant/sensor/lfpbms_bank_${sim.pack(1).serial}/ccl/config`));
    assert.deepEqual(stateOf(out, `lifepo4-bms/${sim.pack(1).serial}/bank/control`), {
      cvl: 55.2,
      ccl: 0,
      dcl: 100,
      stage: 2,
      stage_text: 'data doubtful',
      charge_mode: 'bulk',
    });
  });
});

describe('energy counter', () => {
  it('1 kW of charging for an hour is 1 kWh; discharging counts apart; a long silence counts nothing', () => {
    const counter = new EnergyCounter({ chargedWh: 0, dischargedWh: 0 }, 60_000);
    for (let t = 0; t <= 3_600_000; t += 5_000) counter.add(1000, t);
    assert.ok(Math.abs(counter.totals.chargedWh - 1000) < 1e-6);
    counter.add(-500, 3_605_000);
    counter.add(-500, 3_610_000);
    assert.ok(Math.abs(counter.totals.dischargedWh - (500 * 5) / 3600) < 1e-9);
    const before = counter.totals;
    counter.add(-500, 3_610_000 + 61_000);
    assert.deepEqual(counter.totals, before, 'the gap is longer than the limit');
    counter.add(null, 3_671_000);
    counter.add(-500, 3_676_000);
    assert.deepEqual(counter.totals, before, 'unknown power counts nothing');
  });
});
