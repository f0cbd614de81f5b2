import assert from 'node:assert/strict';
import { aggregateBank, type PackInput } from '../../src/bank';
import { pylonValues, rs485Battery, type InverterLimits } from '../../src/bank/inverter-view';
import { SimulatedBank } from '../../src/sim';
import { simInputs } from '../helpers/venus';

const identity = { manufacturer: 'LFPBANK', product: 'LFP', firmware: { major: 1, minor: 0 }, forceChargeSoc: null };
const limits: InverterLimits = {
  limits: { cvl: 55.2, ccl: 100, dcl: 150 },
  allowToCharge: true,
  allowToDischarge: true,
  dischargeVoltage: 46.4,
  blockingCharge: 0,
  blockingDischarge: 0,
};

function bankOf(inputs: PackInput[], expectedPacks?: number[]): ReturnType<typeof aggregateBank> {
  return aggregateBank(inputs, { staleAfterMs: 15_000, ...(expectedPacks ? { expectedPacks } : {}) });
}

const withCodes = (
  input: PackInput,
  codes: { alarms?: string[]; protections?: string[]; faults?: string[] },
): PackInput => ({
  ...input,
  alarms: {
    balancingCells: [],
    chargeMos: true,
    dischargeMos: true,
    ...input.alarms,
    alarms: codes.alarms ?? [],
    protections: codes.protections ?? [],
    faults: codes.faults ?? [],
  },
});

describe('the bank as the inverter reads it (pure)', () => {
  const sim = new SimulatedBank({ packs: 3, seed: 9, current: -30 });

  it('codes become Pylon conditions: protections in the protection set, alarms in the warning set, a fault a system error', () => {
    const [a, b, c] = simInputs(sim);
    assert.ok(a && b && c);
    const bank = bankOf([
      withCodes(a, { protections: ['COTP'], alarms: ['UV'] }),
      withCodes(b, { faults: ['CELLS'] }),
      c,
    ]);
    const v = pylonValues(bank, limits, identity);
    assert.ok(v);
    assert.equal(v.protection.highTemperature, true);
    assert.equal(v.protection.systemError, true);
    assert.equal(v.protection.lowVoltage, false);
    assert.equal(v.warning.lowVoltage, true);
    assert.equal(v.warning.highTemperature, false);
    assert.equal(v.warning.systemError, false);
  });

  it('a pack that does not answer raises the communication warning and leaves the module count', () => {
    const inputs = simInputs(sim, [1, 2]);
    const v = pylonValues(bankOf(inputs, [1, 2, 3]), limits, identity);
    assert.ok(v);
    assert.equal(v.modules, 2);
    assert.equal(v.modulesOffline, 1);
    assert.equal(v.warning.systemError, true);
  });

  it('not allowed to charge: CCL 0 and charge enable off whatever the limit says; force charge I at or below the SOC set', () => {
    const bank = bankOf(simInputs(sim));
    const v = pylonValues(bank, { ...limits, allowToCharge: false }, identity);
    assert.ok(v);
    assert.equal(v.chargeCurrent, 0);
    assert.equal(v.chargeEnable, false);
    assert.equal(v.dischargeEnable, true);
    const soc = bank.soc ?? NaN;
    assert.equal(pylonValues(bank, limits, { ...identity, forceChargeSoc: Math.ceil(soc) })?.forceCharge1, true);
    assert.equal(pylonValues(bank, limits, { ...identity, forceChargeSoc: Math.floor(soc) - 1 })?.forceCharge1, false);
  });

  it('no counted pack: nothing to announce', () => {
    const stale = simInputs(sim).map((p) => ({ ...p, ageMs: 60_000 }));
    assert.equal(pylonValues(bankOf(stale), limits, identity), null);
  });

  it('RS485: every fresh pack a module, 0x62 bytes from the same conditions, a serial per pack', () => {
    const [a, b, c] = simInputs(sim);
    assert.ok(a && b && c);
    const bank = bankOf([withCodes(a, { protections: ['COCP'], alarms: ['TOV'] }), b, { ...c, ageMs: 60_000 }]);
    const v = pylonValues(bank, limits, identity);
    assert.ok(v);
    const battery = rs485Battery(bank, v, { ...identity, deviceName: 'LFP-BANK' });
    assert.deepEqual(
      battery.modules.map((m) => m.pack),
      [1, 2],
    );
    assert.deepEqual(battery.modules[0]?.cellVoltages, a.analog?.cellVoltages);
    // alarm 1 b7 module over-voltage (TOV); alarm 2 b4 communication (pack 3 stale); protection 2 b6 charge over-current.
    assert.deepEqual(battery.systemAlarms, [0x80, 0x10, 0x00, 0x40]);
    assert.equal(battery.identity.serials.length, 2);
    assert.equal(battery.identity.serials[0], sim.pack(1).serial);
    assert.equal(battery.system.cellMax.value, v.cellVoltageMax);
    assert.ok(battery.system.cellMax.pack >= 1 && battery.system.cellMax.pack <= 2);
    assert.equal(battery.system.sohMin, Math.min(...[a, b].map((p) => p.analog?.soh ?? 100)));
  });
});
