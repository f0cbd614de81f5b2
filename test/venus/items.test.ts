import assert from 'node:assert/strict';
import { ChargeController, FreshnessGuard, aggregateBank } from '../../src/bank';
import { SimulatedBank } from '../../src/sim';
import { ALARM_MAP, DEFAULT_ALARM_THRESHOLDS, EMPTY_HISTORY, bankItems, bankSpecs, type ServiceMeta } from '../../src/venus';
import { codesOf, mappedAlarmLevels } from '../../src/venus/alarms';
import { simInputs } from '../helpers/venus';

const META: ServiceMeta = { processName: 'p', processVersion: '1', connection: 'c', productName: 'bank', firmware: null, serial: null, customName: '' };

describe('venus items', () => {
  it("map the battery's own codes onto /Alarms: warnings 1, protections and faults 2", () => {
    const levels = mappedAlarmLevels({ alarms: ['OV', 'EUT'], protections: ['CP'], faults: ['NTC'] });
    assert.equal(levels.HighCellVoltage, 1);
    assert.equal(levels.LowTemperature, 1);
    assert.equal(levels.HighDischargeCurrent, 2);
    assert.equal(levels.InternalFailure, 2);
    assert.equal(levels.LowChargeTemperature, 0);
    // Every canonical warning and protection code of HMI-CODES.md §6 feeds some path.
    const fed = new Set(Object.values(ALARM_MAP).flatMap((m) => [...m.warning, ...m.protection]));
    for (const code of ['OV', 'UV', 'TOV', 'TUV', 'COC', 'DOC', 'COT', 'DOT', 'CUT', 'DUT', 'EOT', 'EUT', 'MOSOT', 'USOC', 'OVP', 'UVP', 'TOVP', 'TUVP', 'COCP', 'DOCP', 'CP', 'CHVP', 'COTP', 'DOTP', 'CUTP', 'DUTP']) {
      assert.ok(fed.has(code), code);
    }
    assert.ok(!fed.has('FULLY'));
  });

  it("take a pack's codes from the bank state by pack", () => {
    const alarms = [{ code: 'OV', level: 'warning' as const, text: '', packs: [2] }, { code: 'NTC', level: 'fault' as const, text: '', packs: [1, 2] }];
    assert.deepEqual(codesOf(alarms, 1), { alarms: [], protections: [], faults: ['NTC'] });
    assert.deepEqual(codesOf(alarms, null), { alarms: ['OV'], protections: [], faults: ['NTC'] });
  });

  it('cover every path of the service, with Ah taken counted negative and time to go while discharging', () => {
    const sim = new SimulatedBank({ packs: 2, seed: 1, current: -40 });
    const bank = aggregateBank(simInputs(sim), { staleAfterMs: 15_000 });
    const freshness = new FreshnessGuard({ pollIntervalMs: 5000 }).assess(bank, 0, 0);
    const values = bankItems({ bank, decision: new ChargeController().step(bank, 0), freshness, history: EMPTY_HISTORY, meta: META, thresholds: DEFAULT_ALARM_THRESHOLDS, now: 0 });
    for (const path of bankSpecs([1, 2]).keys()) if (path !== '/DeviceInstance') assert.ok(path in values, path);
    assert.ok((values['/ConsumedAmphours'] as number) < 0);
    assert.equal(values['/TimeToGo'], Math.round((bank.remainingAh / -(bank.current ?? 0)) * 3600));
    assert.equal(values['/Alarms/BmsCable'], 0);
  });

  it('once the data is lost: measurements and alarms invalid, limits 0, CVL invalid, BmsCable 2', () => {
    const sim = new SimulatedBank({ packs: 2, seed: 1, current: -40 });
    const bank = aggregateBank(simInputs(sim), { staleAfterMs: 15_000 });
    const freshness = { stage: 2 as const, reason: 'every pack silent', stalePacks: [1, 2] };
    const values = bankItems({ bank, decision: new ChargeController().step(bank, 0), freshness, history: EMPTY_HISTORY, meta: META, thresholds: DEFAULT_ALARM_THRESHOLDS, now: 0 });
    for (const path of ['/Dc/0/Voltage', '/Soc', '/System/MaxCellVoltage', '/Info/MaxChargeVoltage', '/Alarms/HighCellVoltage', '/Diagnostics/Module0/Alarms/LowSoc']) assert.equal(values[path], null, path);
    assert.deepEqual([values['/Info/MaxChargeCurrent'], values['/Info/MaxDischargeCurrent'], values['/Alarms/BmsCable'], values['/Io/AllowToCharge']], [0, 0, 2, 0]);
    assert.equal(values['/Info/ChargeMode'], 'BMS data lost: every pack silent');
  });
});
