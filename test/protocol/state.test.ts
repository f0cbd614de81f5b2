import assert from 'node:assert/strict';
import { aggregateBank, packMode, sensorGroups } from '../../src/bank';
import {
  decodeResponse,
  encodeResponse,
  temperatureLabel,
  temperatureRoles,
  type PackAlarms,
  type PackAnalog,
} from '../../src/protocol';
import { VECTORS } from '../helpers/vectors';

/** The first reply of a captured vector, decoded with the request it answers. */
function decoded(id: string): { packs: (PackAlarms & PackAnalog)[] } {
  const v = VECTORS.find((x) => x.id === id);
  assert.ok(v, `vector ${id}`);
  const result = decodeResponse(v.responses[0] ?? '', { request: v.decodeRequests[0] ?? '' });
  assert.ok(result.ok, `${id}: ${result.message ?? ''}`);
  return result.data as unknown as { packs: (PackAlarms & PackAnalog)[] };
}

describe('protocol: switch and state bits, on real frames', () => {
  const none = {
    mode: null,
    limiterActive: null,
    limiterEnabled: null,
    limiterGear: null,
    heater: null,
    chargerConnected: null,
    buzzer: null,
    ledAlarm: null,
  };
  const cases: { id: string; state: object; why: string }[] = [
    {
      id: 'P25-44-A',
      // Instruction 0x0E: CFET, DFET, b3; control 0x00: buzzer off, high gear, limiter and LED alarm not disabled.
      state: {
        ...none,
        limiterActive: false,
        limiterEnabled: true,
        limiterGear: 'high',
        heater: false,
        chargerConnected: false,
        buzzer: false,
        ledAlarm: true,
      },
      why: 'PACE reports switches but no mode',
    },
    {
      id: 'P25-44-P2',
      state: {
        ...none,
        limiterActive: false,
        limiterEnabled: true,
        limiterGear: 'high',
        heater: false,
        chargerConnected: false,
        buzzer: false,
        ledAlarm: true,
      },
      why: 'PACE pack at address 2',
    },
    // FET 0x03 (both MOSFETs, no limiter, no heater), system 0x02 (charging).
    {
      id: 'EG4-44-NK',
      state: { ...none, mode: 'charging', limiterActive: false, heater: false },
      why: 'EG4 FET and system bytes',
    },
    // On-off 0x03, system 0x02 (charging).
    {
      id: 'SEP-44',
      state: { ...none, mode: 'charging', limiterActive: false, heater: false },
      why: 'Seplos on-off and system bytes',
    },
    // Status3 0x40: effective discharge current, no heater, buzzer off.
    {
      id: 'PYL-US3000C-44',
      state: { ...none, mode: 'discharging', heater: false, buzzer: false },
      why: 'Pylontech status 3',
    },
  ];
  for (const { id, state, why } of cases) {
    it(`${id}: ${why}`, () => {
      const [pack] = decoded(id).packs;
      assert.deepEqual(pack?.state, state);
    });
  }

  it('PACE control bits: buzzer, low gear, limiter and LED alarm switched off come back as the pack set them', () => {
    const request = VECTORS.find((x) => x.id === 'P25-44-A')?.decodeRequests[0] ?? '';
    const state = {
      mode: null,
      limiterActive: true,
      limiterEnabled: false,
      limiterGear: 'low',
      heater: true,
      chargerConnected: true,
      buzzer: true,
      ledAlarm: false,
    } as const;
    const frame = encodeResponse(
      'alarms',
      {
        packs: [
          {
            pack: 1,
            balancingCells: [],
            alarms: [],
            protections: [],
            faults: [],
            chargeMos: true,
            dischargeMos: false,
            state,
          },
        ],
      },
      { dialect: 'pace', address: 1, request: { pack: 1 } },
    );
    // Instruction: b0 limiter, b1 CFET, b5 charger, b7 heater = 0xA3; control: b0 buzzer, b3 low gear, b4 limiter off, b5 LED off = 0x39.
    assert.match(frame, /A339/);
    const result = decodeResponse(frame, { request });
    assert.ok(result.ok, result.message);
    assert.deepEqual((result.data as unknown as { packs: PackAlarms[] }).packs[0]?.state, state);
  });
});

describe('protocol: temperature sensors carry their role', () => {
  it('PACE: cells 1–4, MOSFET, ambient (P25-42-A); every pack of a broadcast (P25-42-FF2)', () => {
    const [pack] = decoded('P25-42-A').packs;
    assert.deepEqual(pack?.temperatureRoles, ['cell', 'cell', 'cell', 'cell', 'mosfet', 'ambient']);
    for (const p of decoded('P25-42-FF2').packs)
      assert.deepEqual(p.temperatureRoles, ['cell', 'cell', 'cell', 'cell', 'mosfet', 'ambient']);
  });

  it('Seplos and EG4: ambient before MOSFET', () => {
    for (const id of ['SEP-42-A', 'EG4-42-NK'])
      assert.deepEqual(
        decoded(id).packs[0]?.temperatureRoles,
        ['cell', 'cell', 'cell', 'cell', 'ambient', 'mosfet'],
        id,
      );
  });

  it('Pylontech: the BMS board first, then four cell groups (US2000C, US3000C)', () => {
    for (const id of ['PYL-42-US2000C', 'PYL-US3000C-42'])
      assert.deepEqual(decoded(id).packs[0]?.temperatureRoles, ['board', 'cell', 'cell', 'cell', 'cell'], id);
  });

  it('labels sensors as the vendor tool does, and reads a count no row knows as cell sensors', () => {
    const roles = temperatureRoles('pace', 6);
    assert.deepEqual(
      roles.map((_, i) => temperatureLabel(roles, i)),
      ['cell 1', 'cell 2', 'cell 3', 'cell 4', 'MOSFET', 'ambient'],
    );
    const pyl = temperatureRoles('pylontech', 5);
    assert.deepEqual(
      pyl.map((_, i) => temperatureLabel(pyl, i)),
      ['BMS board', 'cell 1', 'cell 2', 'cell 3', 'cell 4'],
    );
    assert.deepEqual(temperatureRoles('seplos', 3), ['cell', 'cell', 'cell']);
  });

  it('the bank: temperature extremes from cell sensors; MOSFET and ambient have their own (P25-42-A: MOSFET 26.5, ambient 27.4 °C)', () => {
    const [analog] = decoded('P25-42-A').packs;
    assert.ok(analog);
    const state = aggregateBank([{ pack: 1, analog, alarms: null, online: true, ageMs: 0 }], { staleAfterMs: 10_000 });
    const cells = state.temperature;
    assert.ok(cells, 'cell temperature extremes');
    assert.equal(cells.max.value, 24.1, 'the hottest cell sensor, not the ambient one');
    assert.equal(cells.max.id, 'P01T01');
    assert.equal(cells.min.value, 23.9);
    assert.deepEqual(state.mosfetTemperature?.max, { value: 26.5, pack: 1, index: 5, id: 'P01T05' });
    assert.deepEqual(state.ambientTemperature?.min, { value: 27.4, pack: 1, index: 6, id: 'P01T06' });
    assert.equal(state.boardTemperature, null);
    const groups = sensorGroups(analog);
    assert.deepEqual(
      groups.internal.map((r) => r.sensor),
      [5],
      "ambient is not the electronics' heat",
    );
  });
});

describe('bank: what a pack is doing', () => {
  it("the pack's own mode where it reports one; PACE (no mode bit) by its current, ±0.5 A standby", () => {
    const [analog] = decoded('P25-42-A').packs;
    const [alarms] = decoded('P25-44-A').packs;
    assert.ok(analog && alarms);
    const at = (current: number): ReturnType<typeof packMode> =>
      packMode({ online: true, analog: { ...analog, current }, alarms });
    assert.deepEqual([at(3), at(-3), at(0.4), at(-0.5)], ['charging', 'discharging', 'standby', 'standby']);
    const [seplos] = decoded('SEP-44').packs;
    assert.equal(
      packMode({ online: true, analog: { ...analog, current: -20 }, alarms: seplos ?? null }),
      'charging',
      'Seplos says charging',
    );
    assert.equal(packMode({ online: false, analog, alarms }), null);
    const bank = aggregateBank([{ pack: 1, analog: { ...analog, current: -7 }, alarms, online: true, ageMs: 0 }], {
      staleAfterMs: 1000,
    });
    assert.equal(bank.packs[0]?.mode, 'discharging');
  });
});
