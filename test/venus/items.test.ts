import assert from 'node:assert/strict';
import { ChargeController, FreshnessGuard, aggregateBank } from '../../src/bank';
import { SimulatedBank } from '../../src/sim';
import {
  ALARM_MAP,
  DEFAULT_ALARM_THRESHOLDS,
  EMPTY_HISTORY,
  bankItems,
  bankSpecs,
  type ServiceMeta,
} from '../../src/venus';
import { codesOf, mappedAlarmLevels } from '../../src/bank/alarm-levels';
import { simInputs } from '../helpers/venus';

const META: ServiceMeta = {
  processName: 'p',
  processVersion: '1',
  connection: 'c',
  productName: 'bank',
  firmware: null,
  serial: null,
  customName: '',
};

describe('venus items', () => {
  it("map the battery's own codes onto /Alarms: warnings 1, protections and faults 2", () => {
    const levels = mappedAlarmLevels({ alarms: ['OV', 'EUT'], protections: ['CP'], faults: ['NTC'] });
    assert.equal(levels.HighCellVoltage, 1);
    assert.equal(levels.LowTemperature, 1);
    assert.equal(levels.HighDischargeCurrent, 2);
    assert.equal(levels.InternalFailure, 2);
    assert.equal(levels.LowChargeTemperature, 0);
    // Every canonical warning and protection code of docs/codes.md#victron-alarm-paths feeds some path.
    const fed = new Set(Object.values(ALARM_MAP).flatMap((m) => [...m.warning, ...m.protection]));
    for (const code of [
      'OV',
      'UV',
      'TOV',
      'TUV',
      'COC',
      'DOC',
      'COT',
      'DOT',
      'CUT',
      'DUT',
      'EOT',
      'EUT',
      'MOSOT',
      'USOC',
      'OVP',
      'UVP',
      'TOVP',
      'TUVP',
      'COCP',
      'DOCP',
      'CP',
      'CHVP',
      'COTP',
      'DOTP',
      'CUTP',
      'DUTP',
    ]) {
      assert.ok(fed.has(code), code);
    }
    assert.ok(!fed.has('FULLY'));
  });

  it("take a pack's codes from the bank state by pack", () => {
    const alarms = [
      { code: 'OV', level: 'warning' as const, text: '', packs: [2] },
      { code: 'NTC', level: 'fault' as const, text: '', packs: [1, 2] },
    ];
    assert.deepEqual(codesOf(alarms, 1), { alarms: [], protections: [], faults: ['NTC'] });
    assert.deepEqual(codesOf(alarms, null), { alarms: ['OV'], protections: [], faults: ['NTC'] });
  });

  it('cover every path of the service, with Ah taken counted negative and time to go while discharging', () => {
    const sim = new SimulatedBank({ packs: 2, seed: 1, current: -40 });
    const bank = aggregateBank(simInputs(sim), { staleAfterMs: 15_000 });
    const freshness = new FreshnessGuard({ pollIntervalMs: 5000 }).assess(bank, 0);
    const values = bankItems({
      bank,
      decision: new ChargeController().step(bank, 0),
      freshness,
      history: EMPTY_HISTORY,
      meta: META,
      thresholds: DEFAULT_ALARM_THRESHOLDS,
      now: 0,
    });
    for (const path of bankSpecs([1, 2]).keys()) if (path !== '/DeviceInstance') assert.ok(path in values, path);
    assert.ok((values['/ConsumedAmphours'] as number) < 0);
    assert.equal(values['/TimeToGo'], Math.round((bank.remainingAh / -(bank.current ?? 0)) * 3600));
    assert.equal(values['/Alarms/BmsCable'], 0);
  });

  it('once no pack is fresh: measurements and alarms invalid, charging stopped, discharge held, BmsCable 1; BMS lost: CVL invalid, BmsCable 2', () => {
    const sim = new SimulatedBank({ packs: 2, seed: 1, current: -40 });
    const bank = aggregateBank(simInputs(sim), { staleAfterMs: 15_000 });
    const controller = new ChargeController();
    const trusted = controller.step(bank, 0).published;
    const at = (stage: 2 | 3): Record<string, unknown> =>
      bankItems({
        bank,
        decision: controller.hold(20_000, 'no fresh data from any pack (15 s)', stage === 3),
        freshness: { stage, reason: 'no fresh data from any pack (15 s)', stalePacks: [1, 2] },
        history: EMPTY_HISTORY,
        meta: META,
        thresholds: DEFAULT_ALARM_THRESHOLDS,
        now: 20_000,
      });
    const doubtful = at(2);
    for (const path of [
      '/Dc/0/Voltage',
      '/Soc',
      '/System/MaxCellVoltage',
      '/Alarms/HighCellVoltage',
      '/Diagnostics/Module0/Alarms/LowSoc',
    ])
      assert.equal(doubtful[path], null, path);
    assert.ok(
      typeof doubtful['/Info/MaxChargeVoltage'] === 'number' &&
        doubtful['/Info/MaxChargeVoltage'] <= (bank.voltage?.mean ?? 0),
    );
    assert.deepEqual(
      [
        doubtful['/Info/MaxChargeCurrent'],
        doubtful['/Info/MaxDischargeCurrent'],
        doubtful['/Alarms/BmsCable'],
        doubtful['/Io/AllowToCharge'],
        doubtful['/Io/AllowToDischarge'],
      ],
      [0, trusted.dcl, 1, 0, 1],
    );
    assert.match(String(doubtful['/Info/ChargeMode']), /^Charging stopped: no fresh data from any pack/);
    const lost = at(3);
    assert.deepEqual(
      [
        lost['/Info/MaxChargeVoltage'],
        lost['/Info/MaxChargeCurrent'],
        lost['/Alarms/BmsCable'],
        lost['/Diagnostics/Module1/Alarms/BmsCable'],
      ],
      [null, 0, 2, 2],
    );
  });

  it('gives the GX the cell temperature furthest from comfort: one cold pack is not averaged away', () => {
    const sim = new SimulatedBank({ packs: 3, seed: 1 });
    const inputs = simInputs(sim).map((p) =>
      p.pack === 2 && p.analog ? { ...p, analog: { ...p.analog, temperatures: [3, 3.5, 4, 3.2, 10, 9] } } : p,
    );
    const bank = aggregateBank(inputs, { staleAfterMs: 15_000 });
    const values = bankItems({
      bank,
      decision: new ChargeController().step(bank, 0),
      freshness: { stage: 0, reason: '', stalePacks: [] },
      history: EMPTY_HISTORY,
      meta: META,
      thresholds: DEFAULT_ALARM_THRESHOLDS,
      now: 0,
    });
    assert.equal(values['/Dc/0/Temperature'], 3);
    assert.equal(values['/System/MinTemperatureCellId'], 'P02T01');
    const hot = aggregateBank(
      simInputs(sim).map((p) =>
        p.pack === 1 && p.analog ? { ...p, analog: { ...p.analog, temperatures: [48, 47, 46, 45, 60, 30] } } : p,
      ),
      { staleAfterMs: 15_000 },
    );
    assert.equal(
      bankItems({
        bank: hot,
        decision: new ChargeController().step(hot, 0),
        freshness: { stage: 0, reason: '', stalePacks: [] },
        history: EMPTY_HISTORY,
        meta: META,
        thresholds: DEFAULT_ALARM_THRESHOLDS,
        now: 0,
      })['/Dc/0/Temperature'],
      48,
    );
  });
});
