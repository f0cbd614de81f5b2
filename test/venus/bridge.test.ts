import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { SimulatedBank } from '../../src/sim';
import {
  VenusBridge,
  VenusService,
  bankSpecs,
  packSpecs,
  type BridgeOptions,
  type ServiceState,
} from '../../src/venus';
import { Message, Variant, sessionBus, type MessageBus } from '../../src/venus/dbus';
import { startBus, type RunningBus } from '../helpers/dbus';
import { FakeLocalSettings } from '../helpers/localsettings';
import { SystemCalcEmulation } from '../helpers/systemcalc';
import { setCells, simInputs } from '../helpers/venus';

describe('venus bridge on a real dbus-daemon', function () {
  let bus: RunningBus;
  let settings: FakeLocalSettings;
  let systemcalc: SystemCalcEmulation;
  let stateDir: string;
  const bridges: VenusBridge[] = [];

  before(async () => {
    bus = await startBus();
  });
  after(async () => {
    await bus.stop();
  });
  beforeEach(async () => {
    settings = new FakeLocalSettings();
    await settings.start(bus.address);
    systemcalc = await SystemCalcEmulation.start(bus.address);
    stateDir = mkdtempSync(join(tmpdir(), 'lfp-venus-'));
  });
  afterEach(async () => {
    await Promise.all(bridges.splice(0).map((b) => b.stop()));
    systemcalc.stop();
    settings.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  function bridge(options: Partial<BridgeOptions> = {}): VenusBridge {
    const b = new VenusBridge({
      busAddress: bus.address,
      fallbackId: 'node1',
      connection: 'tcp://sim (PACE)',
      pollIntervalMs: 5000,
      stateDir,
      ...options,
    });
    bridges.push(b);
    return b;
  }

  /** A bridge fed once from `sim`, seen on the bus by the systemcalc emulation. */
  async function published(
    sim: SimulatedBank,
    options: Partial<BridgeOptions>,
  ): Promise<{ b: VenusBridge; name: string; v: (path: string) => unknown }> {
    const b = bridge(options);
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    return { b, name, v: (path: string): unknown => systemcalc.value(name, path) };
  }

  /** Stop a bridge and wait until its service has left the bus. */
  async function stopped(b: VenusBridge): Promise<void> {
    const name = b.serviceName ?? '';
    await b.stop();
    bridges.splice(bridges.indexOf(b), 1);
    await systemcalc.waitFor('the bank gone', () => !systemcalc.services.has(name));
  }

  function registered(b: VenusBridge): Promise<void> {
    return new Promise((resolve) => {
      if (b.service?.registered) {
        resolve();
        return;
      }
      const check = (state: ServiceState, name: string): void => {
        if (state.phase === 'registered' && name === b.serviceName) {
          b.off('state', check);
          resolve();
        }
      };
      b.on('state', check);
    });
  }

  async function client(): Promise<MessageBus> {
    const c = sessionBus({ busAddress: bus.address });
    (c as NodeJS.EventEmitter).on('error', () => undefined);
    await new Promise<void>((resolve) => {
      c.once('connect', () => {
        resolve();
      });
    });
    return c;
  }

  async function call(
    c: MessageBus,
    dest: string,
    path: string,
    member: string,
    signature?: string,
    body?: unknown[],
  ): Promise<unknown> {
    const reply = await c.call(
      new Message({
        destination: dest,
        path,
        interface: member === 'Introspect' ? 'org.freedesktop.DBus.Introspectable' : 'com.victronenergy.BusItem',
        member,
        ...(signature ? { signature, body } : {}),
      }),
    );
    return reply?.body[0];
  }

  it('is battery monitor and BMS, with every path there when the name appears', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 1, current: 20 });
    const b = bridge();
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    assert.match(name, /^com\.victronenergy\.battery\.lfpbms_SIM01\d+$/);
    await systemcalc.waitFor('the bank service', () => systemcalc.services.has(name));
    const seen = systemcalc.services.get(name);
    assert.ok(seen);
    // GetItems right at NameOwnerChanged already listed every path, CVL included and valid.
    assert.equal(seen.values.size, bankSpecs([1, 2, 3]).size);
    assert.equal(typeof seen.values.get('/Info/MaxChargeVoltage'), 'number');
    assert.equal(systemcalc.batteryMonitor(), name);
    assert.equal(systemcalc.bms(), name);
    assert.equal(systemcalc.multipleBms(), false);
    assert.equal(seen.instance, 1);
    // Values are the simulator's.
    const truth = simInputs(sim);
    const voltage = truth.reduce((s, p) => s + (p.analog?.voltage ?? 0), 0) / 3;
    assert.equal(seen.values.get('/Dc/0/Voltage'), Math.round(voltage * 100) / 100);
    assert.equal(
      seen.values.get('/Dc/0/Current'),
      Math.round(truth.reduce((s, p) => s + (p.analog?.current ?? 0), 0) * 10) / 10,
    );
    assert.equal(seen.values.get('/System/NrOfModulesOnline'), 3);
    assert.equal(seen.values.get('/System/NrOfCellsPerBattery'), 16);
    assert.equal(seen.values.get('/ProductId'), 0xc065);
  });

  it('answers the whole BusItem contract: GetItems, GetValue / GetText on root, nodes and leaves, SetValue, Introspect', async () => {
    const sim = new SimulatedBank({ packs: 2, seed: 2, current: 15 });
    const b = bridge();
    b.feed(simInputs(sim));
    await registered(b);
    const name = b.serviceName ?? '';
    const c = await client();
    try {
      const items = (await call(c, name, '/', 'GetItems')) as Record<string, { Value: Variant; Text: Variant }>;
      assert.ok(Object.keys(items).every((k) => k.startsWith('/')));
      assert.equal(items['/Dc/0/Voltage']?.Value.signature, 'd');
      const root = (await call(c, name, '/', 'GetValue')) as Variant<Record<string, Variant>>;
      assert.ok('Dc/0/Voltage' in root.value && !('/Dc/0/Voltage' in root.value));
      const dc = (await call(c, name, '/Dc', 'GetValue')) as Variant<Record<string, Variant>>;
      assert.deepEqual(Object.keys(dc.value).sort(), ['0/Current', '0/Power', '0/Temperature', '0/Voltage']);
      const texts = (await call(c, name, '/Dc/0', 'GetText')) as Variant<Record<string, string>>;
      const voltage = (await call(c, name, '/Dc/0/Voltage', 'GetValue')) as Variant<number>;
      assert.equal(texts.value.Voltage, `${voltage.value.toFixed(2)}V`);
      assert.equal(await call(c, name, '/Dc/0/Voltage', 'GetText'), `${voltage.value.toFixed(2)}V`);
      // Charging: time to go is invalid — an empty int32 array, text '---'.
      const ttg = (await call(c, name, '/TimeToGo', 'GetValue')) as Variant<unknown[]>;
      assert.equal(ttg.signature, 'ai');
      assert.deepEqual(ttg.value, []);
      assert.equal(await call(c, name, '/TimeToGo', 'GetText'), '---');
      assert.equal(await call(c, name, '/Soc', 'SetValue', 'v', [new Variant('d', 50)]), 1);
      assert.equal(await call(c, name, '/CustomName', 'SetValue', 'v', [new Variant('i', 5)]), 1);
      assert.equal(await call(c, name, '/CustomName', 'SetValue', 'v', [new Variant('s', 'x'.repeat(65))]), 2);
      assert.equal(await call(c, name, '/CustomName', 'SetValue', 'v', [new Variant('s', 'Garage bank')]), 0);
      assert.equal(((await call(c, name, '/CustomName', 'GetValue')) as Variant).value, 'Garage bank');
      const rootXml = (await call(c, name, '/', 'Introspect')) as string;
      for (const child of ['Dc', 'Info', 'System', 'Alarms', 'Diagnostics', 'History', 'Soc'])
        assert.ok(rootXml.includes(`<node name="${child}"/>`), child);
      assert.ok(rootXml.includes('GetItems'));
      const leafXml = (await call(c, name, '/Dc/0', 'Introspect')) as string;
      assert.ok(leafXml.includes('<node name="Voltage"/>'));
    } finally {
      c.disconnect();
    }
  });

  it('sends d for quantities, i for flags and counts, s for ids, empty ai for invalid, and never NaN', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 3, current: -30 });
    const b = bridge();
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    const seen = systemcalc.services.get(name);
    assert.ok(seen);
    for (const [path, spec] of bankSpecs([1, 2, 3])) {
      const value = seen.values.get(path);
      const type = seen.types.get(path);
      if (value === null) assert.equal(type, 'ai', path);
      else assert.equal(type, spec.type, path);
      assert.ok(typeof value !== 'number' || Number.isFinite(value), path);
    }
    assert.match(String(seen.values.get('/System/MaxVoltageCellId')), /^P0[1-3]C(0[1-9]|1[0-6])$/);
    assert.match(String(seen.values.get('/System/MinTemperatureCellId')), /^P0[1-3]T0[1-4]$/);
    // Discharging: time to go is valid.
    assert.equal(seen.types.get('/TimeToGo'), 'd');
  });

  it('sends one ItemsChanged per publish cycle with only the changed paths', async () => {
    let t = 1_000_000;
    const sim = new SimulatedBank({ packs: 2, seed: 4, current: 10 });
    const b = bridge({ clock: () => t, propertiesChanged: true });
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    const seen = systemcalc.services.get(name);
    assert.ok(seen);
    const before = { items: seen.itemsChanged, props: seen.propertiesChanged };
    t += 1000;
    sim.setCurrent(25);
    const inputs = simInputs(sim);
    b.feed(inputs);
    await systemcalc.waitFor(
      'the new current',
      () =>
        seen.values.get('/Dc/0/Current') ===
        Math.round(inputs.reduce((s, p) => s + (p.analog?.current ?? 0), 0) * 10) / 10,
    );
    await systemcalc.waitFor(
      'PropertiesChanged for every path of the batch',
      () => seen.propertiesChanged - before.props === seen.lastBatch.length,
    );
    assert.equal(seen.itemsChanged - before.items, 1);
    assert.ok(seen.lastBatch.includes('/Dc/0/Current'));
    assert.ok(!seen.lastBatch.includes('/ProductName') && !seen.lastBatch.includes('/System/NrOfCellsPerBattery'));
    // The same data again changes nothing on the bus.
    const batches = seen.itemsChanged;
    b.feed(inputs);
    // A round trip to the service: any signal it sent before the reply has arrived by now.
    const c = await client();
    await call(c, name, '/Soc', 'GetValue');
    c.disconnect();
    assert.equal(seen.itemsChanged, batches);
  });

  it('per-pack services (opt-in) never take the monitor or BMS role and never export /Info', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 5, current: 12 });
    const b = bridge({ packServices: true, preferredInstance: 5 });
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('bank and 3 pack services', () => systemcalc.services.size === 4);
    const packs = [...systemcalc.services.values()].filter((s) => s.name !== name);
    assert.deepEqual(
      packs.map((s) => s.name).sort(),
      [1, 2, 3].map((n) => `${name}_p0${String(n)}`),
    );
    for (const p of packs) {
      assert.ok(![...p.values.keys()].some((k) => k.startsWith('/Info/')), p.name);
      // Lower instances than the bank would not matter: they have no /Info/MaxChargeVoltage to be "seen".
      assert.equal(typeof p.values.get('/Dc/0/Voltage'), 'number');
    }
    assert.equal(systemcalc.batteryMonitor(), name);
    assert.equal(systemcalc.bms(), name);
    assert.equal(systemcalc.multipleBms(), false);
    const truth = simInputs(sim)[1]?.analog;
    assert.equal(systemcalc.value(`${name}_p02`, '/Dc/0/Voltage'), Math.round((truth?.voltage ?? 0) * 100) / 100);
  });

  it('takes its instance from localsettings, keeps it across restarts and follows a change by re-registering', async () => {
    settings.values.set('/Settings/Devices/other/ClassAndVrmInstance', 'battery:1');
    const sim = new SimulatedBank({ packs: 1, seed: 6 });
    const first = bridge();
    first.feed(simInputs(sim));
    const name = first.serviceName ?? '';
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    // battery:1 is taken: the next free one.
    assert.equal(systemcalc.services.get(name)?.instance, 2);
    await stopped(first);
    const second = bridge();
    second.feed(simInputs(sim));
    await systemcalc.waitFor('the bank back', () => systemcalc.services.has(name));
    assert.equal(systemcalc.services.get(name)?.instance, 2);
    // The GUI's VRM-instance dialog writes the setting: the service leaves and returns with it.
    settings.set(`/Settings/Devices/${name.split('.').pop() ?? ''}/ClassAndVrmInstance`, 'battery:7');
    await systemcalc.waitFor('instance 7', () => systemcalc.services.get(name)?.instance === 7);
    assert.equal(second.service?.instance, 7);
  });

  it('falls back to the preferred instance, with a warning, when there is no settings service', async () => {
    settings.stop();
    const sim = new SimulatedBank({ packs: 1, seed: 7 });
    const b = bridge({ preferredInstance: 42 });
    const warned = new Promise<string>((resolve) => {
      b.once('warning', resolve);
    });
    b.feed(simInputs(sim));
    assert.match(await warned, /no com\.victronenergy\.settings.*DeviceInstance 42/);
    await systemcalc.waitFor('the bank', () => systemcalc.services.get(b.serviceName ?? '')?.instance === 42);
  });

  it('keeps the name it had when the pack serial cannot be read on a later start', async () => {
    const sim = new SimulatedBank({ packs: 1, seed: 17 });
    const first = bridge();
    first.feed(simInputs(sim));
    const name = first.serviceName ?? '';
    await stopped(first);
    const noSerial = simInputs(sim).map((p) => ({ ...p, identity: null }));
    const second = bridge();
    for (let i = 0; i < 3; i++) second.feed(noSerial);
    assert.equal(second.serviceName, name);
    await systemcalc.waitFor('the bank under its old name', () => systemcalc.services.has(name));
  });

  it('takes its instance from localsettings when that appears after it', async () => {
    settings.stop();
    const sim = new SimulatedBank({ packs: 1, seed: 16 });
    const b = bridge({ preferredInstance: 42 });
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank on its fallback instance', () => systemcalc.services.get(name)?.instance === 42);
    settings.values.set(`/Settings/Devices/${name.split('.').pop() ?? ''}/ClassAndVrmInstance`, 'battery:9');
    await settings.start(bus.address);
    await systemcalc.waitFor(
      'the bank on the instance localsettings keeps for it',
      () => systemcalc.services.get(name)?.instance === 9,
    );
  });

  it('keeps a custom name written over D-Bus across a restart', async () => {
    const sim = new SimulatedBank({ packs: 1, seed: 8 });
    const first = bridge();
    first.feed(simInputs(sim));
    await registered(first);
    const name = first.serviceName ?? '';
    const c = await client();
    assert.equal(await call(c, name, '/CustomName', 'SetValue', 'v', [new Variant('s', 'Shed bank')]), 0);
    c.disconnect();
    await stopped(first);
    const second = bridge();
    second.feed(simInputs(sim));
    await systemcalc.waitFor('the bank back', () => systemcalc.services.has(name));
    assert.equal(systemcalc.value(name, '/CustomName'), 'Shed bank');
  });

  it('a burst of custom-name writes is saved once, after it (no file write per SetValue: flash wear)', async () => {
    const sim = new SimulatedBank({ packs: 1, seed: 8 });
    const b = bridge({ nameSaveDelayMs: 300 });
    b.feed(simInputs(sim));
    await registered(b);
    const name = b.serviceName ?? '';
    const file = join(stateDir, `venus-${name.replace('com.victronenergy.battery.', '')}.json`);
    const stored = (): unknown =>
      existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { customName: unknown }).customName : undefined;
    const before = stored();
    const c = await client();
    for (let i = 1; i <= 20; i++) {
      assert.equal(await call(c, name, '/CustomName', 'SetValue', 'v', [new Variant('s', `Bank ${String(i)}`)]), 0);
      assert.equal(stored(), before, `not written at SetValue ${String(i)}`);
    }
    c.disconnect();
    const saved = new Promise<string>((resolve) => {
      b.once('saved', resolve);
    });
    assert.equal(await saved, file);
    assert.equal(stored(), 'Bank 20');
  });

  it('emulates systemcalc faithfully: a lower-instance service that merely exports an invalid CVL steals the monitor role, a valid one raises multiple-BMS', async () => {
    const sim = new SimulatedBank({ packs: 1, seed: 9 });
    const b = bridge({ preferredInstance: 10 });
    b.feed(simInputs(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    const specs = packSpecs();
    specs.set('/Info/MaxChargeVoltage', { type: 'd', unit: 'V', decimals: 2 });
    const rogue = new VenusService({
      busAddress: bus.address,
      serviceName: 'com.victronenergy.battery.rogue',
      uniqueId: 'rogue',
      preferredInstance: 3,
      specs,
    });
    rogue.update({ '/Connected': 1, '/ProductName': 'rogue', '/Mgmt/Connection': 'test', '/Dc/0/Voltage': 52 });
    rogue.start();
    try {
      await systemcalc.waitFor('the rogue', () => systemcalc.services.has('com.victronenergy.battery.rogue'));
      assert.equal(systemcalc.batteryMonitor(), 'com.victronenergy.battery.rogue');
      assert.equal(systemcalc.bms(), name);
      assert.equal(systemcalc.multipleBms(), false);
      rogue.update({ '/Info/MaxChargeVoltage': 55 });
      await systemcalc.waitFor('multiple BMS', () => systemcalc.multipleBms());
    } finally {
      await rogue.stop();
    }
  });

  it('comes back with the same name and instance after the dbus-daemon is killed and restarted', async () => {
    const sim = new SimulatedBank({ packs: 2, seed: 10 });
    const b = bridge({ retryMinMs: 100 });
    b.feed(simInputs(sim));
    await registered(b);
    const name = b.serviceName ?? '';
    const instance = b.service?.instance;
    await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
    const retrying = new Promise<void>((resolve) => {
      const check = (state: ServiceState): void => {
        if (state.phase === 'retrying') {
          b.off('state', check);
          resolve();
        }
      };
      b.on('state', check);
    });
    systemcalc.stop();
    settings.stop();
    await bus.kill();
    await retrying;
    await bus.restart();
    await settings.start(bus.address);
    await systemcalc.connect(bus.address);
    await systemcalc.waitFor('the bank back', () => systemcalc.services.has(name), 15_000);
    assert.equal(systemcalc.services.get(name)?.instance, instance);
    assert.equal(systemcalc.batteryMonitor(), name);
    assert.equal(systemcalc.bms(), name);
    // Changes after the restart reach the GX as signals on the new connection.
    sim.setCurrent(-37);
    const inputs = simInputs(sim);
    b.feed(inputs);
    const current = Math.round(inputs.reduce((sum, p) => sum + (p.analog?.current ?? 0), 0) * 10) / 10;
    await systemcalc.waitFor('the new current', () => systemcalc.value(name, '/Dc/0/Current') === current);
  });

  describe('stale data', () => {
    /**
     * The bridge's clock and watchdog timers on a fake clock of their own: the bus, the daemon and
     * the systemcalc double keep real time, so signals arrive while the test waits for them.
     */
    const fakeClock = (
      now: number,
    ): { clock: () => number; timers: FakeTimers.Clock; tick: (ms: number) => Promise<number> } => {
      const timers = FakeTimers.createClock(now);
      return { clock: () => timers.now, timers, tick: (ms) => timers.tickAsync(ms) };
    };

    it('stage 1: a silent pack raises BmsCable, leaves the totals and the limits; stage 2: charging stops, discharge held; stage 3: CVL invalid; recovery holds, then ramps', async () => {
      const time = fakeClock(5_000_000);
      const sim = new SimulatedBank({ packs: 3, seed: 11, current: 5 });
      const { b, name, v } = await published(sim, { clock: time.clock, timers: time.timers });
      assert.equal(v('/Info/MaxChargeCurrent'), 150);
      assert.equal(v('/Info/MaxDischargeCurrent'), 300);
      assert.equal(v('/Alarms/BmsCable'), 0);
      // Pack 3 goes silent; 3 poll cycles (15 s) later it is stale.
      for (let i = 0; i < 3; i++) {
        await time.tick(5001);
        b.feed(simInputs(sim, [1, 2]));
      }
      await systemcalc.waitFor('stage 1', () => v('/Alarms/BmsCable') === 1);
      assert.equal(v('/System/NrOfModulesOffline'), 1);
      assert.equal(v('/System/NrOfModulesOnline'), 2);
      assert.equal(v('/Info/MaxChargeCurrent'), 100);
      assert.equal(v('/Info/MaxDischargeCurrent'), 200);
      const two = simInputs(sim, [1, 2]);
      assert.equal(v('/Dc/0/Current'), Math.round(two.reduce((s, p) => s + (p.analog?.current ?? 0), 0) * 10) / 10);
      assert.equal(v('/Diagnostics/Module2/Alarms/BmsCable'), 1);
      assert.equal(typeof v('/Info/MaxChargeVoltage'), 'number');
      const lastVoltage = Number(v('/Dc/0/Voltage'));
      // Nothing arrives: the node's own watchdog sees no fresh pack (stage 2), charging stops, discharge held.
      await time.tick(16_000);
      await systemcalc.waitFor('stage 2', () => v('/Info/MaxChargeCurrent') === 0 && v('/Dc/0/Voltage') === null);
      assert.equal(v('/Info/MaxDischargeCurrent'), 200);
      const safeCvl = v('/Info/MaxChargeVoltage');
      assert.ok(
        typeof safeCvl === 'number' && safeCvl <= lastVoltage,
        `CVL ${String(safeCvl)} V at most the bank's last voltage ${String(lastVoltage)} V`,
      );
      assert.deepEqual([v('/Alarms/BmsCable'), v('/Io/AllowToCharge'), v('/Io/AllowToDischarge')], [1, 0, 1]);
      assert.match(String(v('/Info/ChargeMode')), /^Charging stopped: no fresh data from any pack/);
      assert.equal(systemcalc.bms(), name);
      // 5 min later the service stops being a BMS.
      await time.tick(300_000);
      await systemcalc.waitFor('stage 3', () => v('/Alarms/BmsCable') === 2);
      assert.equal(v('/Info/MaxChargeVoltage'), null);
      assert.equal(systemcalc.bms(), null);
      // Fresh data from the packs it counts: values return, charging held at 0, then ramps; discharge never 0.
      b.feed(simInputs(sim, [1, 2]));
      await systemcalc.waitFor(
        'recovered',
        () => typeof v('/Info/MaxChargeVoltage') === 'number' && v('/Dc/0/Voltage') !== null,
      );
      assert.equal(v('/Alarms/BmsCable'), 1);
      assert.equal(v('/Info/MaxChargeCurrent'), 0);
      assert.equal(v('/Info/MaxDischargeCurrent'), 200);
      assert.equal(systemcalc.bms(), name);
      // Polled every 5 s from then on: after 30 s the charge current ramps back up.
      for (let s = 5; s <= 55; s += 5) {
        await time.tick(5000);
        b.feed(simInputs(sim, [1, 2]));
        if (s < 30) assert.equal(v('/Info/MaxChargeCurrent'), 0, `CCL still held at ${String(s)} s`);
      }
      await systemcalc.waitFor('ramped up', () => v('/Info/MaxChargeCurrent') === 100);
    });

    it('the watchdog sleeps while input comes on time, checks every second once it is overdue, and finds stage 2 within a second of the last pack turning stale', async () => {
      const time = fakeClock(7_000_000);
      const sim = new SimulatedBank({ packs: 2, seed: 14 });
      const b = bridge({ clock: time.clock, timers: time.timers });
      const checks: number[] = [];
      const evaluate = b.evaluate.bind(b);
      b.evaluate = (now, trigger) => {
        if (trigger === 'watchdog') checks.push(now);
        return evaluate(now, trigger);
      };
      const stages: { stage: number; at: number }[] = [];
      b.on('report', (r) => stages.push({ stage: r.stage, at: time.timers.now }));
      b.feed(simInputs(sim));
      await systemcalc.waitFor('the bank', () => systemcalc.services.has(b.serviceName ?? ''));
      // A minute of polls every 5 s (and a little late): no check, one timer pending.
      for (let i = 0; i < 12; i++) {
        await time.tick(5000 + (i % 3) * 300);
        b.feed(simInputs(sim));
      }
      assert.deepEqual(checks, []);
      assert.equal(time.timers.countTimers(), 1);
      const lastInput = time.timers.now;
      // The next poll is a second overdue: the first check, then one per second.
      await time.tick(5999);
      assert.deepEqual(checks, []);
      await time.tick(1);
      assert.deepEqual(checks, [lastInput + 6000]);
      await time.tick(4000);
      assert.deepEqual(
        checks,
        [6000, 7000, 8000, 9000, 10_000].map((ms) => lastInput + ms),
      );
      // Every pack is stale 15 s after the last reading: stage 2 at the first check after that.
      await time.tick(10_000);
      const stage2 = stages.find((r) => r.stage === 2);
      assert.ok(stage2, 'stage 2 reported');
      assert.ok(stage2.at > lastInput + 15_000 && stage2.at <= lastInput + 16_000, String(stage2.at - lastInput));
      // Input again: the watchdog sleeps again.
      b.feed(simInputs(sim));
      const seen = checks.length;
      await time.tick(5000);
      b.feed(simInputs(sim));
      await time.tick(5000);
      assert.equal(checks.length, seen);
    });

    /** A 2-pack bank's bridge set to leave its bus name on loss, on a fake clock from `now`. */
    const leavingBridge = (
      now: number,
    ): { time: ReturnType<typeof fakeClock>; sim: SimulatedBank; b: VenusBridge; states: ServiceState[] } => {
      const time = fakeClock(now);
      const sim = new SimulatedBank({ packs: 2, seed: 12 });
      const b = bridge({ clock: time.clock, timers: time.timers, releaseOnLoss: true });
      const states: ServiceState[] = [];
      b.on('state', (state: ServiceState) => states.push(state));
      return { time, sim, b, states };
    };

    /** The bridge's next service state in `phase`; fails in 10 s naming the states it saw. */
    const reached = (b: VenusBridge, states: ServiceState[], phase: ServiceState['phase']): Promise<ServiceState> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no ${phase} state; states: ${states.map((s) => s.text).join(' | ')}`));
        }, 10_000);
        b.on('state', (state: ServiceState) => {
          if (state.phase !== phase) return;
          clearTimeout(timer);
          resolve(state);
        });
      });

    it('can leave the bus name when the BMS is lost (stage 3) and claim it again on fresh data', async () => {
      const { time, sim, b } = leavingBridge(9_000_000);
      b.feed(simInputs(sim));
      const name = b.serviceName ?? '';
      await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
      await time.tick(16_000);
      await systemcalc.waitFor('charging stopped', () => systemcalc.value(name, '/Info/MaxChargeCurrent') === 0);
      assert.ok(systemcalc.services.has(name), 'still on the bus while only doubtful');
      await time.tick(300_000);
      await systemcalc.waitFor('the name released', () => !systemcalc.services.has(name));
      b.feed(simInputs(sim));
      await systemcalc.waitFor('the name back', () => systemcalc.services.has(name));
      assert.equal(systemcalc.bms(), name);
    });

    it('fresh data while the name is being left: the name is taken again once it is left', async () => {
      const { time, sim, b, states } = leavingBridge(9_500_000);
      let fedWhileLeaving = false;
      const evaluate = b.evaluate.bind(b);
      b.evaluate = (now, trigger) => {
        const report = evaluate(now, trigger);
        // In the same turn as the stage-3 check that starts leaving the name: the daemon cannot
        // have answered yet.
        if (report?.stage === 3 && !fedWhileLeaving) {
          fedWhileLeaving = true;
          b.feed(simInputs(sim));
        }
        return report;
      };
      b.feed(simInputs(sim));
      const name = b.serviceName ?? '';
      await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
      const released = reached(b, states, 'released');
      await time.tick(316_000);
      assert.ok(fedWhileLeaving, 'stage 3 reached');
      await released;
      await reached(b, states, 'registered');
      await systemcalc.waitFor('the name back', () => systemcalc.services.has(name));
      assert.equal(systemcalc.bms(), name);
    });

    it('fresh data after a loss while another process holds the name: a clear retry state, no unhandled failure', async () => {
      const { time, sim, b, states } = leavingBridge(9_800_000);
      b.feed(simInputs(sim));
      const name = b.serviceName ?? '';
      await systemcalc.waitFor('the bank', () => systemcalc.services.has(name));
      const released = reached(b, states, 'released');
      await time.tick(316_000);
      await released;
      const other = await client();
      try {
        // DBUS_NAME_FLAG_DO_NOT_QUEUE; 1: the primary owner now.
        assert.equal(await other.requestName(name, 4), 1);
        const retrying = reached(b, states, 'retrying');
        b.feed(simInputs(sim));
        const state = await retrying;
        assert.equal(state.error, `${name} is already owned by another process`);
        assert.match(state.text, /retry in 1 s$/);
      } finally {
        other.disconnect();
      }
    });
  });

  describe('charge control from simulator scenarios', () => {
    it('full charge: absorption, then float at 16 × 3.375 V, kept across a restart', async () => {
      let t = 20_000_000;
      const sim = new SimulatedBank({ packs: 2, seed: 13, current: 2 });
      for (const p of sim.packs) {
        p.setSoc(1);
        setCells(p, 3.45);
      }
      const { b, v } = await published(sim, { clock: () => t, charge: { absorptionSeconds: 60 } });
      assert.match(String(v('/Info/ChargeMode')), /^Absorption 1m00s left/);
      assert.equal(v('/Info/MaxChargeVoltage'), 55.2);
      t += 61_000;
      b.feed(simInputs(sim));
      await systemcalc.waitFor('float transition', () => v('/Info/ChargeMode') === 'Float transition');
      t += 1300_000;
      b.feed(simInputs(sim));
      await systemcalc.waitFor('float', () => v('/Info/ChargeMode') === 'Float');
      assert.equal(v('/Info/MaxChargeVoltage'), 54);
      // The packs report FULLY (protect-2 b7) at 100 %: the bank is full now.
      assert.equal(v('/History/TimeSinceLastFullCharge'), 0);
      // A restart of Node-RED keeps the bank in float instead of charging it to 55.2 V again.
      await stopped(b);
      const again = await published(sim, { clock: () => t, charge: { absorptionSeconds: 60 } });
      assert.equal(again.v('/Info/ChargeMode'), 'Float');
      assert.equal(again.v('/Info/MaxChargeVoltage'), 54);
    });

    it("a cell running high pulls CVL down (P-controller), stops charge current and raises the pack's alarms", async () => {
      let t = 30_000_000;
      const sim = new SimulatedBank({ packs: 2, seed: 14, current: 2 });
      for (const p of sim.packs) setCells(p, 3.4);
      setCells(sim.pack(2), [3.4, 3.4, 3.4, 3.4, 3.55]);
      const { b, v } = await published(sim, { clock: () => t });
      // Pack 2: 15 × 3.40 + 3.55 − 0.10 overshoot.
      assert.equal(v('/Info/MaxChargeVoltage'), 54.45);
      assert.match(String(v('/Info/ChargeMode')), /\(Cell OVP\)$/);
      assert.equal(v('/Info/MaxChargeCurrent'), 0);
      assert.equal(v('/Info/ChargeLimitation'), 'Cell voltage P02');
      assert.equal(v('/System/MaxVoltageCellId'), 'P02C05');
      assert.equal(v('/Io/AllowToCharge'), 0);
      assert.equal(v('/Alarms/HighCellVoltage'), 0);
      // Higher still: the pack's own OV warning (3.60 V), then its OVP protection (3.70 V) opens its charge MOSFET.
      setCells(sim.pack(2), [3.4, 3.4, 3.4, 3.4, 3.62]);
      t += 1000;
      b.feed(simInputs(sim));
      await systemcalc.waitFor('a warning', () => v('/Alarms/HighCellVoltage') === 1);
      assert.equal(v('/Diagnostics/Module1/Alarms/HighCellVoltage'), 1);
      assert.equal(v('/Diagnostics/Module0/Alarms/HighCellVoltage'), 0);
      assert.equal(v('/Info/MaxChargeVoltage'), 54.45);
      setCells(sim.pack(2), [3.4, 3.4, 3.4, 3.4, 3.71]);
      sim.pack(2).advance(t);
      t += 1000;
      b.feed(simInputs(sim));
      await systemcalc.waitFor('an alarm', () => v('/Alarms/HighCellVoltage') === 2);
      assert.equal(v('/System/NrOfModulesBlockingCharge'), 1);
      // Still the P-controller value of pack 2's cells, now without charge current through them.
      const cells = simInputs(sim, [2])[0]?.analog?.cellVoltages ?? [];
      assert.equal(
        v('/Info/MaxChargeVoltage'),
        Math.round(cells.reduce((sum, c) => sum + Math.min(c, 3.45), 0) * 100) / 100,
      );
    });

    it('a cold pack reduces CCL by the temperature table', async () => {
      const t = 40_000_000;
      const sim = new SimulatedBank({ packs: 2, seed: 15, current: 2 });
      for (const p of sim.packs) setCells(p, 3.3);
      const cold = sim.pack(1);
      for (let i = 0; i < 4; i++) cold.temperatures[i] = 3;
      const { b, v } = await published(sim, { clock: () => t });
      // 3 °C: between (2 °C, 0.25) and (5 °C, 0.5) → 1/3 of 50 A, × 2 packs.
      assert.equal(v('/Info/MaxChargeCurrent'), 33.3);
      assert.equal(v('/Info/ChargeLimitation'), 'Temperature P01');
      assert.equal(v('/System/MinCellTemperature'), 3);
      assert.equal(v('/System/MinTemperatureCellId'), 'P01T01');
      assert.equal(v('/Info/MaxDischargeCurrent'), Math.round(100 * (0.25 + (3 / 5) * 0.25) * 2 * 10) / 10);
      assert.equal(v('/Alarms/LowChargeTemperature'), 0);
      // Below 0 °C while charging: the pack warns (CUT) and charging stops.
      for (let i = 0; i < 4; i++) cold.temperatures[i] = -2;
      b.feed(simInputs(sim));
      await systemcalc.waitFor('the warning', () => v('/Alarms/LowChargeTemperature') === 1);
      assert.equal(v('/Alarms/LowTemperature'), 1);
      assert.equal(v('/Info/MaxChargeCurrent'), 0);
      assert.equal(v('/Io/AllowToCharge'), 0);
    });
  });
});
