import assert from 'node:assert/strict';
import { ParameterError, planParameters, type ParameterSet } from '../../src/protocol';
import { defaultParameters } from '../../src/sim/defaults';

const CTX = { cellCount: 16, ratedCurrent: 120 };
const current = (): ParameterSet => {
  const set = defaultParameters() as ParameterSet;
  // As read: discharge over-current positive.
  set.dischargeOverCurrent1 = { ...set.dischargeOverCurrent1, alarm: 105, protect: 110 };
  return set;
};

describe('parameter planning', () => {
  it('plans only what changes, per group, with the values before and after', () => {
    const plan = planParameters(
      current(),
      { cellOverVoltage: { alarm: 3.55, protect: 3.7 }, balancing: { deltaVoltage: 0.02 } },
      CTX,
    );
    assert.deepEqual(plan.changes, [
      { field: 'cellOverVoltage.alarm', from: 3.6, to: 3.55 },
      { field: 'balancing.deltaVoltage', from: 0.03, to: 0.02 },
    ]);
    assert.deepEqual(plan.groups, ['cellOverVoltage', 'balancing']);
    assert.deepEqual(plan.warnings, []);
  });

  it('warns when a protection is switched off or cells may be over-charged', () => {
    const plan = planParameters(current(), { cellOverVoltage: { enabled: false, protect: 3.75 } }, CTX);
    assert.deepEqual(plan.warnings, [
      'cellOverVoltage protection will be disabled',
      'cellOverVoltage.protect 3.75 V is above the 3.65 V LiFePO4 cells are made for',
    ]);
  });

  const refused: [string, unknown, RegExp][] = [
    ['out of range', { cellOverVoltage: { protect: 5 } }, /^cellOverVoltage\.protect = 5 V is outside 2\.5…4\.5 V$/],
    [
      'off the wire step',
      { cellOverVoltage: { protect: 3.6505 } },
      /^cellOverVoltage\.protect = 3\.6505 is not a multiple of 0\.001 V$/,
    ],
    [
      'inverted high thresholds',
      { cellOverVoltage: { alarm: 3.7, protect: 3.65 } },
      /^cellOverVoltage\.alarm \(3\.7\) must be below cellOverVoltage\.protect \(3\.65\)$/,
    ],
    [
      'inverted against the pack as read',
      { cellUnderVoltage: { protect: 2.9 } },
      /^cellUnderVoltage\.protect \(2\.9\) must be below cellUnderVoltage\.alarm \(2\.8\)$/,
    ],
    [
      'inverted low temperatures',
      { cellLowTemperature: { chargeProtect: 2 } },
      /^cellLowTemperature\.chargeProtect \(2\) must be below cellLowTemperature\.chargeAlarm \(0\)$/,
    ],
    [
      'low above high',
      { cellLowTemperature: { chargeAlarm: 25 }, cellHighTemperature: { chargeAlarm: 24 } },
      /must be below/,
    ],
    [
      'pack above cells × 16',
      { packOverVoltage: { protect: 60 } },
      /^packOverVoltage\.protect \(60 V\) must not exceed 16 × cellOverVoltage\.protect \(59\.20 V\)$/,
    ],
    [
      'above the pack rating',
      { chargeOverCurrent: { protect: 130 } },
      /^chargeOverCurrent\.protect \(130 A\) exceeds the pack rating of 120 A$/,
    ],
    ['NaN', { balancing: { startVoltage: Number.NaN } }, /^balancing\.startVoltage must be a finite number, not NaN$/],
    ['Infinity', { sleep: { delay: Infinity } }, /must be a finite number, not Infinity$/],
    ['a string', { cellOverVoltage: { protect: '3.65' } }, /^cellOverVoltage\.protect must be a number, not "3\.65"$/],
    [
      'a number for a switch',
      { cellOverVoltage: { enabled: 1 } },
      /^cellOverVoltage\.enabled must be true or false, not 1$/,
    ],
    ['an unknown field', { cellOverVoltage: { protekt: 3.65 } }, /^unknown parameter cellOverVoltage\.protekt$/],
    ['an unknown group', { overVoltage: { protect: 3.65 } }, /^unknown parameter group overVoltage$/],
    ['not an object', [3.65], /^parameters must be an object/],
    ['nothing', {}, /^no parameters given$/],
  ];
  for (const [what, desired, reason] of refused) {
    it(`refuses ${what} with a one-line reason`, () => {
      assert.throws(
        () => planParameters(current(), desired, CTX),
        (err: unknown) => err instanceof ParameterError && reason.test(err.message) && !err.message.includes('\n'),
      );
    });
  }

  it('lists every problem, not only the first', () => {
    assert.throws(
      () => planParameters(current(), { cellOverVoltage: { protect: 9, alarm: 'x' } }, CTX),
      (err: unknown) => err instanceof ParameterError && err.problems.length === 2,
    );
  });
});
