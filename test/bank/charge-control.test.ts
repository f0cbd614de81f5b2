import assert from 'node:assert/strict';
import {
  ChargeController,
  DEFAULT_CHARGE_SETTINGS,
  FreshnessGuard,
  aggregateBank,
  evaluateTable,
  type BankState,
  type ChargeSettings,
  type PackInput,
} from '../../src/bank';
import { addSample, EMPTY_HISTORY } from '../../src/venus/history';
import { normalize, textOf } from '../../src/venus/values';

interface PackSpec {
  readonly pack: number;
  readonly cells?: readonly number[] | number;
  readonly temps?: readonly (number | null)[];
  readonly soc?: number;
  readonly chargeMos?: boolean;
  readonly dischargeMos?: boolean;
  readonly limits?: PackInput['limits'];
  readonly ageMs?: number;
  readonly voltage?: number;
}

function input(spec: PackSpec): PackInput {
  const cells =
    typeof spec.cells === 'number' || spec.cells === undefined
      ? new Array<number>(16).fill(typeof spec.cells === 'number' ? spec.cells : 3.3)
      : spec.cells.length < 16
        ? [...spec.cells, ...new Array<number>(16 - spec.cells.length).fill(spec.cells[spec.cells.length - 1] ?? 3.3)]
        : [...spec.cells];
  const sum = cells.reduce((a, b) => a + b, 0);
  return {
    pack: spec.pack,
    analog: {
      pack: spec.pack,
      cellVoltages: cells,
      temperatures: spec.temps ?? [25, 25, 25, 25, 30, 24],
      current: 10,
      voltage: spec.voltage ?? sum,
      remainingAh: spec.soc ?? 60,
      fullAh: 100,
      designAh: 100,
      cycles: 10,
      soc: spec.soc ?? 60,
      soh: 100,
      online: true,
    },
    alarms: {
      balancingCells: [],
      alarms: [],
      protections: [],
      faults: [],
      chargeMos: spec.chargeMos ?? true,
      dischargeMos: spec.dischargeMos ?? true,
    },
    online: true,
    ageMs: spec.ageMs ?? 0,
    ...(spec.limits !== undefined ? { limits: spec.limits } : {}),
  };
}

const bankOf = (...packs: PackSpec[]): BankState => aggregateBank(packs.map(input), { staleAfterMs: 15_000 });
const controller = (settings: Partial<ChargeSettings> = {}): ChargeController =>
  new ChargeController({ ...DEFAULT_CHARGE_SETTINGS, ...settings });

describe('charge control', () => {
  describe('limit tables', () => {
    it('interpolates linearly between points and clamps at the ends', () => {
      const table = DEFAULT_CHARGE_SETTINGS.tables.chargeCell;
      assert.equal(evaluateTable(table, 3.3), 1);
      assert.equal(evaluateTable(table, 3.6), 0);
      assert.ok(Math.abs(evaluateTable(table, 3.4125) - 0.15) < 1e-9);
      assert.ok(Math.abs(evaluateTable(DEFAULT_CHARGE_SETTINGS.tables.chargeTemperature, 47.5) - 0.375) < 1e-9);
    });
  });

  describe('CVL state machine', () => {
    it('bulk → absorption only with balanced cells at voltage; float after the absorption time, ramping down', () => {
      const c = controller({ absorptionSeconds: 600 });
      let t = 0;
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.35, soc: 90 }), t).mode, 'bulk');
      // At voltage but 20 mV apart: still bulk.
      assert.equal(c.step(bankOf({ pack: 1, cells: [3.43, 3.45], soc: 99 }), (t += 1000)).mode, 'bulk');
      const first = c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), (t += 1000));
      assert.equal(first.mode, 'absorption');
      assert.equal(first.published.cvl, 55.2);
      assert.match(first.modeText, /^Absorption 10m00s left$/);
      // A spread above 10 + 3 mV restarts the timer.
      c.step(bankOf({ pack: 1, cells: [3.45, 3.436], soc: 99 }), (t += 300_000));
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), (t += 500_000)).mode, 'absorption');
      const floating = c.step(bankOf({ pack: 1, cells: 3.45, soc: 100 }), (t += 100_001));
      assert.equal(floating.mode, 'float-transition');
      assert.equal(floating.reachedFloat, true);
      // 1 mV/s down from 55.2 V.
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.4, soc: 100 }), (t += 100_000)).published.cvl, 55.1);
      const float = c.step(bankOf({ pack: 1, cells: 3.38, soc: 100 }), (t += 1_200_000));
      assert.equal(float.mode, 'float');
      assert.equal(float.published.cvl, 54);
      // Back to bulk below 80 % SOC.
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.3, soc: 79 }), t + 1000).mode, 'bulk');
    });

    it('absorption falls back to bulk when the bank drops well below the target', () => {
      const c = controller();
      c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), 0);
      assert.equal(c.chargeMode, 'absorption');
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.41, soc: 99 }), 1000).mode, 'bulk');
    });

    it('leaves float for bulk when cells drift 80 mV apart', () => {
      const c = controller();
      c.restore('float');
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.35, soc: 95 }), 0).mode, 'float');
      assert.equal(c.step(bankOf({ pack: 1, cells: [3.3, 3.38], soc: 95 }), 1000).mode, 'bulk');
    });
  });

  describe('cell over-voltage limiting of CVL', () => {
    it('reduces at once to the P-controller value, holds 60 s after recovery, then ramps 1 mV/s', () => {
      const c = controller();
      const high = c.step(bankOf({ pack: 1, cells: 3.4 }, { pack: 2, cells: [3.6, 3.4] }), 0);
      // Pack 2: 15 × 3.40 + 3.60 − 0.15 overshoot.
      assert.equal(high.published.cvl, 54.45);
      assert.equal(high.cellOvp, true);
      assert.match(high.modeText, /\(Cell OVP\)$/);
      const normal = { pack: 2, cells: 3.4 };
      const held = c.step(bankOf({ pack: 1, cells: 3.4 }, normal), 59_000);
      assert.equal(held.published.cvl, 54.45);
      assert.match(held.modeText, /\(Cell OVP\*\)$/);
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.4 }, normal), 60_000).published.cvl, 54.451);
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.4 }, normal), 160_000).published.cvl, 54.551);
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.4 }, normal), 1_000_000).published.cvl, 55.2);
      assert.doesNotMatch(c.step(bankOf({ pack: 1, cells: 3.4 }, normal), 1_001_000).modeText, /OVP/);
    });

    it('never goes below 16 × the minimum cell voltage', () => {
      const c = controller();
      assert.equal(c.step(bankOf({ pack: 1, cells: [4.0, 2.85] }), 0).published.cvl, 46.4);
    });
  });

  describe('CCL / DCL', () => {
    it('is the lowest pack limit × the packs able to share it, with the reason', () => {
      const c = controller();
      const d = c.step(bankOf({ pack: 1 }, { pack: 2, temps: [3, 20, 20, 20, 30, 20] }, { pack: 3 }), 0);
      assert.equal(d.published.ccl, 50);
      assert.equal(d.chargeLimitation, 'Temperature P02');
      assert.equal(d.published.dcl, Math.round(100 * 0.4 * 3 * 10) / 10);
    });

    it('leaves out packs whose BMS blocks charging and counts them', () => {
      const c = controller();
      const d = c.step(bankOf({ pack: 1 }, { pack: 2, chargeMos: false }, { pack: 3 }), 0);
      assert.equal(d.published.ccl, 100);
      assert.deepEqual(d.blockingCharge, [2]);
      assert.match(d.chargeLimitation, /P02 blocking$/);
      assert.equal(d.allowToCharge, true);
      const none = controller().step(bankOf({ pack: 1, chargeMos: false }), 0);
      assert.equal(none.published.ccl, 0);
      assert.equal(none.allowToCharge, false);
      assert.equal(none.chargeLimitation, 'BMS blocks charge (P01)');
    });

    it('takes MOSFET temperature from the internal sensors', () => {
      const d = controller().step(bankOf({ pack: 1, temps: [25, 25, 25, 25, 80, 20] }), 0);
      assert.equal(d.published.ccl, 12.5);
      assert.equal(d.chargeLimitation, 'MOS temperature P01');
    });

    it('can also limit by SOC (off by default)', () => {
      assert.equal(controller().step(bankOf({ pack: 1, soc: 97 }), 0).published.ccl, 50);
      const bySoc = controller({
        tables: {
          ...DEFAULT_CHARGE_SETTINGS.tables,
          chargeSoc: [
            [98, 0.1],
            [95, 0.2],
            [90, 0.5],
            [85, 1],
          ],
          dischargeSoc: [
            [5, 0.1],
            [10, 0.2],
            [15, 0.5],
            [20, 1],
          ],
        },
      });
      const full = bySoc.step(bankOf({ pack: 1, soc: 95 }), 0);
      assert.deepEqual([full.published.ccl, full.chargeLimitation], [10, 'SOC P01']);
      assert.equal(bySoc.step(bankOf({ pack: 1, soc: 10 }), 1000).published.dcl, 20);
    });

    it('uses the BMS-reported limits as a ceiling and the user maximum as a cap', () => {
      const limits = {
        chargeVoltage: 53.2,
        chargeCurrent: 20,
        dischargeCurrent: -150,
        chargeEnabled: true,
        dischargeEnabled: true,
      };
      const d = controller().step(bankOf({ pack: 1, limits }, { pack: 2 }), 0);
      assert.equal(d.published.ccl, 40);
      assert.equal(d.chargeLimitation, 'BMS limit P01');
      assert.equal(d.published.dcl, 200);
      const capped = controller({ maxChargeCurrent: 30 }).step(bankOf({ pack: 1 }, { pack: 2 }), 0);
      assert.equal(capped.published.ccl, 30);
      assert.equal(capped.chargeLimitation, 'User maximum');
    });

    it('cuts at once, holds 30 s, ramps 5 A/s, and leaves 0 only above 1.5 % of the maximum', () => {
      const c = controller();
      assert.equal(c.step(bankOf({ pack: 1 }), 0).published.ccl, 50);
      assert.equal(c.step(bankOf({ pack: 1, cells: [3.425, 3.3] }), 1000).published.ccl, 2.5);
      const held = c.step(bankOf({ pack: 1 }), 30_000);
      assert.equal(held.published.ccl, 2.5);
      assert.match(held.chargeLimitation, /recovering$/);
      assert.equal(c.step(bankOf({ pack: 1 }), 31_000).published.ccl, 7.5);
      assert.equal(c.step(bankOf({ pack: 1 }), 33_000).published.ccl, 17.5);
      // From 0: a computed 0.5 A (1 % of 50 A) stays 0.
      c.hold(100_000, 'lost', false);
      assert.equal(c.step(bankOf({ pack: 1, cells: [3.4995, 3.3] }), 200_000).published.ccl, 0);
    });
  });

  describe('shadow mode', () => {
    it('keeps the safety floor: protections, temperature and cell-voltage derating and the BMS limits are published', () => {
      const limits = {
        chargeVoltage: 54.8,
        chargeCurrent: 40,
        dischargeCurrent: -80,
        chargeEnabled: true,
        dischargeEnabled: true,
      };
      const d = controller({ shadow: true }).step(
        bankOf({ pack: 1, limits }, { pack: 2, temps: [3, 20, 20, 20, 30, 20] }),
        0,
      );
      // 3 °C: a third of the pack current for charge (0.25 at 2 °C, 0.5 at 5 °C), 0.4 for discharge.
      assert.deepEqual(d.published, { cvl: 54.8, ccl: 33.3, dcl: 80 });
      assert.equal(d.chargeLimitation, 'Temperature P02; shadow: would be 33.3 A (Temperature P02)');
      assert.match(d.modeText, /^Shadow: would be Bulk, CVL 55\.20 V$/);
      // Below freezing the cold pack takes nothing, so neither does the bank.
      const frozen = controller({ shadow: true }).step(
        bankOf({ pack: 1 }, { pack: 2, temps: [-2, 20, 20, 20, 30, 20] }),
        0,
      );
      assert.equal(frozen.published.ccl, 0);
      // A cell at 3.62 V pulls CVL down, as without shadow.
      const high = controller({ shadow: true }).step(bankOf({ pack: 1, cells: [3.62, 3.4] }), 0);
      assert.equal(high.published.cvl, Math.round((3.62 + 15 * 3.4 - (3.62 - 3.45)) * 1000) / 1000);
      assert.equal(high.published.ccl, 0);
    });

    it("leaves the algorithm's own choices unapplied: float and the SOC tables stay text", () => {
      const soc: ChargeSettings['tables'] = {
        ...DEFAULT_CHARGE_SETTINGS.tables,
        chargeSoc: [
          [85, 1],
          [90, 0.5],
          [95, 0.2],
          [98, 0.1],
        ],
      };
      const bySoc = controller({ shadow: true, tables: soc }).step(bankOf({ pack: 1, cells: 3.35, soc: 96 }), 0);
      assert.deepEqual([bySoc.published.ccl, bySoc.computed.ccl], [50, 8.3]);
      assert.match(bySoc.chargeLimitation, /shadow: would be 8\.3 A \(SOC P01\)$/);
      const c = controller({ shadow: true, absorptionSeconds: 60 });
      c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), 0);
      assert.equal(c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), 61_000).mode, 'float-transition');
      const ramping = c.step(bankOf({ pack: 1, cells: 3.45, soc: 99 }), 71_000);
      // Published: the bulk voltage; computed: the ramp towards float.
      assert.deepEqual([ramping.published.cvl, ramping.computed.cvl], [55.2, 55.19]);
    });
  });

  describe('when the data goes doubtful', () => {
    it('stops charging with a CVL no higher than the bank had, keeps discharge at the last trusted DCL, and never passes it through 0', () => {
      const c = controller();
      const fresh = c.step(bankOf({ pack: 1, cells: 3.35 }, { pack: 2, cells: 3.35 }), 0);
      assert.deepEqual(fresh.published, { cvl: 55.2, ccl: 100, dcl: 200 });
      const held = c.hold(20_000, 'no fresh data from any pack (15 s)', false);
      // 16 × 3.35 V = 53.6 V: the chargers are told to stop where the bank was.
      assert.deepEqual(held.published, { cvl: 53.6, ccl: 0, dcl: 200 });
      assert.deepEqual([held.allowToCharge, held.allowToDischarge], [false, true]);
      assert.match(held.chargeLimitation, /^Charging stopped: no fresh data/);
      assert.match(held.dischargeLimitation, /^Held at 200\.0 A while the data is doubtful/);
      const lost = c.hold(320_000, 'no fresh data from any pack (300 s)', true);
      assert.deepEqual(lost.published, { cvl: null, ccl: 0, dcl: 200 });
      // Back: DCL goes on from where it was held; CCL holds at 0, then ramps.
      const back = c.step(bankOf({ pack: 1, cells: 3.35 }, { pack: 2, cells: 3.35 }), 321_000);
      assert.deepEqual(back.published, { cvl: 55.2, ccl: 0, dcl: 200 });
      const ccl: number[] = [];
      for (let t = 322_000; t <= 351_000; t += 1000)
        ccl.push(c.step(bankOf({ pack: 1, cells: 3.35 }, { pack: 2, cells: 3.35 }), t).published.ccl);
      // Held for 30 s after the last hold, then 5 A/s.
      assert.deepEqual(ccl.slice(-3), [0, 5, 10]);
    });

    it('caps discharge at the configured limit while the data is doubtful', () => {
      const c = controller({ doubtfulDischargeCurrent: 80 });
      c.step(bankOf({ pack: 1 }, { pack: 2 }), 0);
      assert.equal(c.hold(20_000, 'silent', false).published.dcl, 80);
      const back = c.step(bankOf({ pack: 1 }, { pack: 2 }), 21_000);
      assert.equal(back.published.dcl, 80, 'held, then ramped: never 0');
    });
  });
});

describe('freshness guard', () => {
  const guard = (): FreshnessGuard => new FreshnessGuard({ pollIntervalMs: 5000 });
  const aged = (packs: PackSpec[]): BankState =>
    aggregateBank(packs.map(input), { staleAfterMs: 15_000, expectedPacks: [1, 2] });

  it('stage 0 with every pack fresh, 1 with one silent, 2 with none fresh, 3 after the BMS-lost time', () => {
    const g = guard();
    assert.equal(g.assess(aged([{ pack: 1 }, { pack: 2 }]), 0).stage, 0);
    const one = g.assess(aged([{ pack: 1 }, { pack: 2, ageMs: 15_001 }]), 1000);
    assert.deepEqual([one.stage, one.reason], [1, 'no fresh data from P02']);
    const none = g.assess(
      aged([
        { pack: 1, ageMs: 16_000 },
        { pack: 2, ageMs: 16_000 },
      ]),
      16_000,
    );
    assert.deepEqual([none.stage, none.reason, none.lostInMs], [2, 'no fresh data from any pack (15 s)', 285_000]);
    assert.equal(
      g.assess(
        aged([
          { pack: 1, ageMs: 300_000 },
          { pack: 2, ageMs: 300_000 },
        ]),
        300_999,
      ).stage,
      2,
    );
    const lost = g.assess(
      aged([
        { pack: 1, ageMs: 301_000 },
        { pack: 2, ageMs: 301_000 },
      ]),
      301_000,
    );
    assert.deepEqual([lost.stage, lost.reason], [3, 'no fresh data from any pack (300 s)']);
    assert.equal(guard().assess(null, 0).stage, 3);
  });

  it('recovers only on data read after the loss, and only if it is plausible', () => {
    const g = guard();
    g.assess(aged([{ pack: 1 }, { pack: 2 }]), 0);
    assert.equal(
      g.assess(
        aged([
          { pack: 1, ageMs: 16_000 },
          { pack: 2, ageMs: 16_000 },
        ]),
        16_000,
      ).stage,
      2,
    );
    // Pack 1 is back, but pack 2's data was read before the loss.
    const waiting = g.assess(aged([{ pack: 1 }, { pack: 2, ageMs: 14_000 }]), 20_000);
    assert.deepEqual([waiting.stage, waiting.reason], [2, 'waiting for fresh data from P02']);
    // Fresh, but the pack voltage disagrees with its cells.
    assert.equal(g.assess(aged([{ pack: 1 }, { pack: 2, voltage: 40 }]), 21_000).stage, 2);
    assert.equal(g.assess(aged([{ pack: 1 }, { pack: 2 }]), 22_000).stage, 0);
  });
});

describe('bank history and values on the wire', () => {
  it('integrates energy only across short gaps and only ever grows', () => {
    let h = addSample(
      EMPTY_HISTORY,
      {
        at: 0,
        power: 1000,
        voltage: 53,
        minCellVoltage: 3.3,
        maxCellVoltage: 3.32,
        minTemperature: 20,
        maxTemperature: 22,
        full: false,
      },
      null,
      15_000,
    );
    h = addSample(
      h,
      {
        at: 3_600_000 / 1000,
        power: 1000,
        voltage: 53.2,
        minCellVoltage: 3.31,
        maxCellVoltage: 3.33,
        minTemperature: 19,
        maxTemperature: 22,
        full: false,
      },
      0,
      15_000,
    );
    assert.ok(Math.abs(h.chargedKwh - 1 / 1000) < 1e-12);
    h = addSample(
      h,
      {
        at: 100_000,
        power: -2000,
        voltage: 52,
        minCellVoltage: 3.2,
        maxCellVoltage: 3.3,
        minTemperature: 19,
        maxTemperature: 25,
        full: true,
      },
      3600,
      15_000,
    );
    assert.equal(h.dischargedKwh, 0);
    assert.deepEqual(
      [
        h.minVoltage,
        h.maxVoltage,
        h.minCellVoltage,
        h.maxCellVoltage,
        h.minTemperature,
        h.maxTemperature,
        h.lastFullChargeAt,
      ],
      [52, 53.2, 3.2, 3.33, 19, 25, 100_000],
    );
  });

  it('never puts NaN or Infinity on the bus and rounds to display precision', () => {
    const spec = { type: 'd' as const, unit: 'V', decimals: 2 };
    assert.equal(normalize(spec, Number.NaN), null);
    assert.equal(normalize(spec, Infinity), null);
    assert.equal(normalize(spec, 53.126), 53.13);
    assert.equal(normalize(spec, -0.001), 0);
    assert.equal(normalize({ type: 'i' }, true), 1);
    assert.equal(textOf(spec, 53.1), '53.10V');
    assert.equal(textOf(spec, null), '---');
  });
});
