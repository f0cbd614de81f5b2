import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackInput } from '../../src/bank';
import { SimulatedBank } from '../../src/sim';
import { VenusBridge, type BridgeOptions, type BridgeReport } from '../../src/venus';
import { FakeCharger } from '../helpers/chargers';
import { startBus, type RunningBus } from '../helpers/dbus';
import { FakeLocalSettings } from '../helpers/localsettings';
import { SOLAR_MAXIMUM, SystemCalcEmulation } from '../helpers/systemcalc';
import { setCells, simInputs } from '../helpers/venus';
import { pollCycles, type TimedCycle } from '../helpers/wire';

const SOLAR = ['com.victronenergy.solarcharger.ttyS1', 'com.victronenergy.solarcharger.ttyS2'];
const MULTI = 'com.victronenergy.vebus.ttyS3';
const LIMITS = '/BatteryOperationalLimits';
/** The poller's readings at a poll: fresh, with its silence limit (3 × 5 s). */
const readings = (sim: SimulatedBank, packs?: number[]): PackInput[] =>
  simInputs(sim, packs).map((p) => ({ ...p, staleAfterMs: 15_000 }));

describe('Victron GX: what the chargers receive when data goes bad (DVCC double, real dbus-daemon)', function () {
  this.timeout(60_000);
  let bus: RunningBus;
  let settings: FakeLocalSettings;
  let systemcalc: SystemCalcEmulation;
  let stateDir: string;
  let chargers: FakeCharger[];
  let bridges: VenusBridge[];
  let t: number;
  const solar = (): FakeCharger[] => chargers.filter((c) => c.kind === 'solarcharger');
  const multi = (): FakeCharger => chargers.find((c) => c.kind === 'vebus')!;

  before(async () => {
    bus = await startBus();
  });
  after(async () => {
    await bus.stop();
  });
  beforeEach(async () => {
    t = new Date(2026, 10, 30, 12, 0, 0).getTime();
    settings = new FakeLocalSettings();
    await settings.start(bus.address);
    systemcalc = await SystemCalcEmulation.start(bus.address);
    systemcalc.dvcc = { solarChargers: SOLAR, multi: MULTI, feedInExcessPv: false, solarProduction: 20 };
    chargers = [
      ...SOLAR.map((n) => new FakeCharger('solarcharger', n, bus.address, () => t)),
      new FakeCharger('vebus', MULTI, bus.address, () => t),
    ];
    await Promise.all(chargers.map((c) => c.start()));
    stateDir = mkdtempSync(join(tmpdir(), 'lfp-dvcc-'));
    bridges = [];
  });
  afterEach(async () => {
    await Promise.all(bridges.map((b) => b.stop()));
    await Promise.all(chargers.map((c) => c.stop()));
    systemcalc.stop();
    settings.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** A bridge on the test's clock (no watchdog of its own: the test evaluates every second). */
  async function start(
    sim: SimulatedBank,
    options: Partial<BridgeOptions> = {},
  ): Promise<{ b: VenusBridge; name: string; reports: BridgeReport[] }> {
    const b = new VenusBridge({
      busAddress: bus.address,
      fallbackId: 'dvcc',
      connection: 'test',
      pollIntervalMs: 5000,
      stateDir,
      clock: () => t,
      watchdogMs: 3_600_000,
      charge: { shadow: false },
      ...options,
    });
    bridges.push(b);
    const reports: BridgeReport[] = [];
    b.on('report', (r: BridgeReport) => reports.push({ ...r, at: t } as BridgeReport));
    b.feed(readings(sim));
    const name = b.serviceName ?? '';
    await systemcalc.waitFor('the bank as BMS', () => systemcalc.bms() === name);
    return { b, name, reports };
  }

  /**
   * Time passes second by second: the bridge evaluates (or gets the poll `poll` returns), and every
   * 3 s DVCC writes the chargers from what it has seen.
   */
  async function run(
    b: VenusBridge,
    name: string,
    seconds: number,
    poll: (at: number) => readonly PackInput[] | null,
  ): Promise<void> {
    for (let i = 0; i < seconds; i++) {
      t += 1000;
      const inputs = poll(t);
      if (inputs) b.feed(inputs);
      else b.evaluate(t);
      if (Math.round(t / 1000) % 3 === 0) {
        if (systemcalc.services.has(name)) await systemcalc.sync(name);
        await systemcalc.dvccTick();
      }
    }
  }

  const every5s =
    (sim: SimulatedBank, packs?: number[]) =>
    (at: number): PackInput[] | null =>
      Math.round(at / 1000) % 5 === 0 ? readings(sim, packs) : null;

  /** Replays what a bms-link emitted: each cycle in the second it came. */
  const replay =
    (cycles: readonly TimedCycle[]) =>
    (at: number): readonly PackInput[] | null =>
      cycles.filter((c) => c.at > at - 1000 && c.at <= at).at(-1)?.packs ?? null;

  it('one lost poll (both attempts of the poll dropped on the wire): nothing changes for any charger', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 21, current: 0 });
    const { b, name, reports } = await start(sim);
    const from = t;
    // The real link and poller on the simulated wire; one whole poll (analog, both attempts) lost.
    const cycles = await pollCycles(sim, {
      startAt: t,
      seconds: 50,
      wire: (wire, at) => {
        if (at === from + 19_000) {
          const n = wire.stats.requests + 1;
          wire.script = (i) => (i === n || i === n + 1 ? { drop: true } : undefined);
        }
      },
    });
    assert.ok(
      cycles.some((c) => c.packs.every((p) => p.consecutiveFailures === 1)),
      'a cycle with the poll lost',
    );
    await run(b, name, 50, replay(cycles));
    assert.ok(
      reports.every((r) => r.stage === 0),
      JSON.stringify(reports.filter((r) => r.stage !== 0).map((r) => [r.stage, r.reason])),
    );
    for (const charger of chargers) {
      for (const path of new Set(charger.writes.map((w) => w.path))) {
        assert.equal(
          new Set(charger.valuesOf(path)).size,
          1,
          `${charger.name} ${path}: ${charger.valuesOf(path).join(', ')}`,
        );
      }
    }
    assert.deepEqual(
      [multi().last(`${LIMITS}/MaxChargeCurrent`), multi().last(`${LIMITS}/MaxDischargeCurrent`)],
      [150 - 20, 300],
    );
  });

  it("three lost polls of one pack: that pack's share is removed, at the chargers too", async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 22, current: 0 });
    const { b, name } = await start(sim);
    const from = t;
    // The master starts reporting pack 3 unreachable at +10 s.
    const cycles = await pollCycles(sim, {
      startAt: t,
      seconds: 40,
      wire: (_wire, at) => {
        if (at === from + 10_000) sim.setOffline(3, true);
      },
    });
    sim.setOffline(3, false);
    await run(b, name, 40, replay(cycles));
    const silentFrom =
      cycles.filter((c) => c.packs.find((p) => p.pack === 3)?.consecutiveFailures === 0).at(-1)?.at ?? 0;
    const before = (path: string): number[] =>
      multi()
        .writes.filter((w) => w.path === path && w.at < silentFrom + 15_000)
        .map((w) => w.value);
    assert.ok(
      before(`${LIMITS}/MaxDischargeCurrent`).every((v) => v === 300),
      'unchanged while pack 3 is silent for less than 3 poll intervals',
    );
    assert.equal(multi().last(`${LIMITS}/MaxDischargeCurrent`), 200);
    assert.equal(multi().last(`${LIMITS}/MaxChargeCurrent`), 100 - 20);
    for (const c of solar()) assert.equal(c.last('/Link/ChargeCurrent'), 100);
    assert.equal(systemcalc.value(name, '/Alarms/BmsCable'), 1);
  });

  it('a real loss: chargers get no charge current within one DVCC cycle, discharge stays allowed, BMS lost after the long timeout, and recovery never passes DCL through 0', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 23, current: 0 });
    const { b, name, reports } = await start(sim);
    const from = t;
    // Every reply lost from +10 s on: the poller goes on emitting cycles, with older and older data.
    const cycles = await pollCycles(sim, {
      startAt: t,
      seconds: 35,
      wire: (wire, at) => {
        if (at === from + 10_000) wire.faults.dropRate = 1;
      },
    });
    await run(b, name, 10, replay(cycles));
    const trustedVoltage = Number(systemcalc.value(name, '/Dc/0/Voltage'));
    await run(b, name, 25, replay(cycles));
    const lastPoll = Math.max(...cycles.flatMap((c) => c.packs.map((p) => p.updatedAt ?? 0)));
    const stopped = reports.find((r) => r.stage === 2) as (BridgeReport & { at: number }) | undefined;
    assert.ok(stopped, 'stage 2 reached');
    assert.ok(
      stopped.at - lastPoll >= 15_000 && stopped.at - lastPoll <= 21_000,
      `stage 2 ${String(stopped.at - lastPoll)} ms after the last good data: every pack silent for 3 poll intervals`,
    );
    const firstZero = (c: FakeCharger, path: string): number =>
      c.writes.find((w) => w.path === path && w.value === 0 && w.at >= stopped.at)?.at ?? Infinity;
    for (const c of solar())
      assert.ok(
        firstZero(c, '/Link/ChargeCurrent') - stopped.at <= 3000,
        `${c.name}: 0 A ${String(firstZero(c, '/Link/ChargeCurrent') - stopped.at)} ms after the stage change`,
      );
    assert.ok(firstZero(multi(), `${LIMITS}/MaxChargeCurrent`) - stopped.at <= 3000);
    assert.ok(
      firstZero(multi(), `${LIMITS}/MaxChargeCurrent`) - lastPoll <= 24_000,
      'at most one DVCC cycle after that',
    );
    for (const c of [...solar(), multi()]) {
      const cvl = c.last(c.kind === 'vebus' ? `${LIMITS}/MaxChargeVoltage` : '/Link/ChargeVoltage') ?? Infinity;
      assert.ok(
        cvl <= trustedVoltage,
        `${c.name}: CVL ${String(cvl)} V, no higher than the bank's ${String(trustedVoltage)} V`,
      );
    }
    assert.equal(multi().last(`${LIMITS}/MaxDischargeCurrent`), 300, 'the house keeps its discharge limit');
    assert.equal(systemcalc.bms(), name, 'still the BMS');
    assert.equal(systemcalc.value(name, '/Alarms/BmsCable'), 1);
    assert.equal(systemcalc.value(name, '/Io/AllowToDischarge'), 1);

    // 5 min without fresh data: the service stops being a BMS; DVCC falls silent, the solar chargers time out.
    await run(b, name, 300, () => null);
    const lost = reports.find((r) => r.stage === 3) as (BridgeReport & { at: number }) | undefined;
    assert.ok(lost);
    assert.ok(
      Math.abs(lost.at - stopped.at - 300_000) <= 1000,
      `BMS lost ${String(lost.at - stopped.at)} ms after charging stopped`,
    );
    assert.equal(systemcalc.bms(), null);
    assert.ok(systemcalc.bmsLost);
    assert.equal(systemcalc.value(name, '/Alarms/BmsCable'), 2);
    const silentSince = Math.max(...solar().map((c) => c.writes.at(-1)?.at ?? 0));
    await run(b, name, 70, () => null);
    for (const c of solar()) {
      assert.ok((c.writes.at(-1)?.at ?? 0) <= silentSince, 'nothing written after the BMS was lost');
      assert.equal(c.chargeCurrentAt(t), 0, `${c.name} stopped on its own timeout`);
    }
    assert.deepEqual(
      [multi().last(`${LIMITS}/MaxChargeCurrent`), multi().last(`${LIMITS}/MaxDischargeCurrent`)],
      [0, 300],
      'the Multi keeps what it had',
    );

    // The packs answer again.
    const backAt = t;
    await run(b, name, 60, every5s(sim));
    assert.equal(systemcalc.bms(), name);
    assert.ok(reports.at(-1)?.stage === 0);
    const dcl = multi().valuesOf(`${LIMITS}/MaxDischargeCurrent`);
    assert.ok(
      dcl.every((v) => v > 0),
      `DCL at the Multi never 0: ${[...new Set(dcl)].join(', ')}`,
    );
    const charge = multi().writes.filter((w) => w.path === `${LIMITS}/MaxChargeCurrent` && w.at > backAt);
    assert.equal(charge[0]?.value, 0, 'charging holds at 0 first');
    assert.ok((charge.at(-1)?.value ?? 0) > 0, 'then ramps up');
  });

  it('with feed-in of excess DC-coupled PV the solar chargers ignore CCL: the CVL they get at a loss stops them on its own', async () => {
    systemcalc.dvcc = { solarChargers: SOLAR, multi: MULTI, feedInExcessPv: true, solarProduction: 20 };
    const sim = new SimulatedBank({ packs: 2, seed: 24, current: 0 });
    const { b, name } = await start(sim);
    await run(b, name, 10, every5s(sim));
    const trustedVoltage = Number(systemcalc.value(name, '/Dc/0/Voltage'));
    assert.ok(trustedVoltage < 55.2);
    await run(b, name, 25, () => null);
    for (const c of solar()) {
      assert.equal(c.last('/Link/ChargeCurrent'), SOLAR_MAXIMUM, 'CCL is not applied to them');
      assert.ok(
        (c.last('/Link/ChargeVoltage') ?? Infinity) <= trustedVoltage,
        'but they may not push the bank above where it was',
      );
    }
  });

  it('shadow mode keeps the safety floor: a cold pack and a high cell are derated at the chargers', async () => {
    const sim = new SimulatedBank({ packs: 3, seed: 25, current: 0 });
    const { b, name } = await start(sim, { charge: { shadow: true } });
    await run(b, name, 10, every5s(sim));
    assert.equal(multi().last(`${LIMITS}/MaxChargeCurrent`), 150 - 20);
    sim.pack(2).temperatures.fill(-2, 0, 4);
    await run(b, name, 10, every5s(sim));
    assert.equal(multi().last(`${LIMITS}/MaxChargeCurrent`), 0, 'no charging with a pack below freezing');
    for (const c of solar()) assert.equal(c.last('/Link/ChargeCurrent'), 0);
    sim.pack(2).temperatures.fill(20, 0, 4);
    setCells(sim.pack(1), [3.62]);
    await run(b, name, 10, every5s(sim));
    const cvl = multi().last(`${LIMITS}/MaxChargeVoltage`) ?? Infinity;
    assert.ok(cvl < 55.2, `CVL ${String(cvl)} V pulled down by a cell at 3.62 V`);
    for (const c of solar()) assert.equal(c.last('/Link/ChargeVoltage'), cvl);
    assert.match(String(systemcalc.value(name, '/Info/ChargeMode')), /^Shadow: would be /);
  });
});
