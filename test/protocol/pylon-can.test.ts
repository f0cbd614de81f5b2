import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  NO_CONDITIONS,
  PYLON_FAMILIES,
  decodeInverterFrame,
  encodePylonFrame,
  encodePylonFrames,
  manufacturerProblem,
  pylonFamily,
  type CanFrame,
  type PylonFamily,
  type PylonValues,
} from '../../src/protocol/pylon-can';
import { FrameError } from '../../src/protocol';

const hexOf = (f: CanFrame): string => [...f.data].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');

const family = (id: string): PylonFamily => {
  const f = pylonFamily(id);
  assert.ok(f, id);
  return f;
};

/** A 3-pack bank charging at 12.5 A… discharging, worked through the reference tables by hand. */
const values: PylonValues = {
  chargeVoltage: 55.2,
  chargeCurrent: 100,
  dischargeCurrent: 150,
  dischargeVoltage: 48,
  soc: 76,
  soh: 98,
  voltage: 53.12,
  current: -12.5,
  temperature: 24.6,
  cellVoltageMin: 3.301,
  cellVoltageMax: 3.329,
  temperatureMin: 21.5,
  temperatureMax: 27.25,
  cellVoltageMinId: 'P02C07',
  cellVoltageMaxId: 'P01C16',
  temperatureMinId: 'P03T01',
  temperatureMaxId: 'P01T04',
  modules: 3,
  modulesBlockingCharge: 0,
  modulesBlockingDischarge: 0,
  modulesOffline: 1,
  capacityAh: 300,
  cycles: 412,
  chargeEnable: true,
  dischargeEnable: true,
  forceCharge1: false,
  forceCharge2: false,
  fullChargeRequest: false,
  protection: { ...NO_CONDITIONS, highTemperature: true },
  warning: { ...NO_CONDITIONS, lowVoltage: true },
  manufacturer: 'LFPBANK',
  product: 'LFP-BMS',
  firmware: { major: 1, minor: 7 },
};

describe('Pylon LV CAN frames (battery → inverter)', () => {
  it('Pylontech V1.2: six frames, little-endian, scales and DLCs of the reference', () => {
    const frames = encodePylonFrames(values, family('pylon'));
    assert.deepEqual(
      frames.map((f) => `${f.id.toString(16)}: ${hexOf(f)}`),
      [
        // CVL 552 × 0.1 V, CCL 1000 × 0.1 A, DCL 1500 × 0.1 A (positive), bytes 6–7 empty.
        '351: 28 02 E8 03 DC 05 00 00',
        // SOC 76 %, SOH 98 %.
        '355: 4C 00 62 00',
        // 5312 × 0.01 V, −125 × 0.1 A, 246 × 0.1 °C.
        '356: C0 14 83 FF F6 00',
        // protection: over-temperature (byte 0 b3); warning: low voltage (byte 2 b2); 3 modules; "PN".
        '359: 08 00 04 00 03 50 4E',
        // charge enable b7, discharge enable b6.
        '35c: C0 00',
        '35e: 4C 46 50 42 41 4E 4B 20',
      ],
    );
  });

  it('every 0x359 bit where the table puts it, protection in bytes 0–1 and warning in 2–3', () => {
    const bits: [keyof typeof NO_CONDITIONS, number, number][] = [
      ['highVoltage', 0, 0x02],
      ['lowVoltage', 0, 0x04],
      ['highTemperature', 0, 0x08],
      ['lowTemperature', 0, 0x10],
      ['dischargeOverCurrent', 0, 0x80],
      ['chargeOverCurrent', 1, 0x01],
      ['systemError', 1, 0x08],
    ];
    for (const [name, byte, mask] of bits) {
      const protection = encodePylonFrame(
        0x359,
        { ...values, protection: { ...NO_CONDITIONS, [name]: true }, warning: NO_CONDITIONS },
        family('pylon').layout,
      );
      assert.deepEqual(
        [...protection.data.slice(0, 4)],
        [0, 1, 2, 3].map((i) => (i === byte ? mask : 0)),
        name,
      );
      const warning = encodePylonFrame(
        0x359,
        { ...values, warning: { ...NO_CONDITIONS, [name]: true }, protection: NO_CONDITIONS },
        family('pylon').layout,
      );
      assert.deepEqual(
        [...warning.data.slice(0, 4)],
        [0, 1, 2, 3].map((i) => (i === byte + 2 ? mask : 0)),
        name,
      );
    }
  });

  it('0x35C request flags: charge, discharge, force charge I and II, full charge', () => {
    const layout = family('pylon').layout;
    const flags = (v: Partial<PylonValues>): number =>
      encodePylonFrame(0x35c, { ...values, chargeEnable: false, dischargeEnable: false, ...v }, layout).data[0] ?? -1;
    assert.equal(flags({ chargeEnable: true }), 0x80);
    assert.equal(flags({ dischargeEnable: true }), 0x40);
    assert.equal(flags({ forceCharge1: true }), 0x20);
    assert.equal(flags({ forceCharge2: true }), 0x10);
    assert.equal(flags({ fullChargeRequest: true }), 0x08);
    assert.equal(flags({}), 0);
  });

  it('LuxPower: DVL in 0x351, max/min cell mV in 0x355, max/min temperature in 0x356, capacity in 0x359, cycles in 0x35C', () => {
    const frames = encodePylonFrames(values, family('luxpower'));
    assert.deepEqual(
      frames.map((f) => `${f.id.toString(16)}: ${hexOf(f)}`),
      [
        '351: 28 02 E8 03 DC 05 E0 01',
        // 3329 mV = 0x0D01, 3301 mV = 0x0CE5.
        '355: 4C 00 62 00 01 0D E5 0C',
        // 272.5 → 273 (0x0111), 215 (0x00D7) × 0.1 °C.
        '356: C0 14 83 FF 11 01 D7 00',
        // 300 Ah = 0x012C.
        '359: 08 00 04 00 03 2C 01',
        // 412 cycles = 0x019C.
        '35c: C0 00 9C 01',
        '35e: 4C 46 50 42 41 4E 4B 20',
      ],
    );
  });

  it('Sol-Ark: the voltage in 0.1 V, DVL, installed capacity in 0x379', () => {
    const frames = encodePylonFrames(values, family('solark'));
    const byId = new Map(frames.map((f) => [f.id, hexOf(f)]));
    // 531 × 0.1 V.
    assert.equal(byId.get(0x356), '13 02 83 FF F6 00');
    assert.equal(byId.get(0x351), '28 02 E8 03 DC 05 E0 01');
    assert.equal(byId.get(0x379), '2C 01');
  });

  it('SMA: SOC at 0.01 % in 0x355, 0x35A condition pairs, 0x35B without events, 0x35F "LI", version, capacity', () => {
    const frames = encodePylonFrames(values, family('sma'));
    const byId = new Map(frames.map((f) => [f.id, hexOf(f)]));
    assert.deepEqual([...byId.keys()], [0x351, 0x355, 0x356, 0x35a, 0x35b, 0x35e, 0x35f]);
    // 7600 × 0.01 % = 0x1DB0.
    assert.equal(byId.get(0x355), '4C 00 62 00 B0 1D');
    // Alarms: general raised (01), high V cleared (10), low V cleared, high T raised → 0b01_10_10_01 = 0x69;
    // byte 1: low T 10, high T charge 01, low T charge 10, high current 10 → 0b10_10_01_10 = 0xA6; byte 2 AA; byte 3 AA.
    // Warnings: general 01, high V 10, low V 01, high T 10 → 0b10_01_10_01 = 0x99; then AA AA AA.
    assert.equal(byId.get(0x35a), '69 A6 AA AA 99 AA AA AA');
    assert.equal(byId.get(0x35b), '00 00 00 00 00 00 00 00');
    assert.equal(byId.get(0x35f), '4C 49 07 01 2C 01 00 00');
  });

  it('Victron: 0x372–0x377, 0x379 and 0x382 besides the core; 0x35F with the version MSB first', () => {
    const frames = encodePylonFrames(values, family('victron'));
    const byId = new Map(frames.map((f) => [f.id, hexOf(f)]));
    assert.equal(byId.get(0x372), '03 00 00 00 00 00 01 00');
    // 3301 mV, 3329 mV, 294.65 → 295 K (0x0127), 300.4 → 300 K (0x012C).
    assert.equal(byId.get(0x373), 'E5 0C 01 0D 27 01 2C 01');
    assert.equal(byId.get(0x374), '50 30 32 43 30 37 00 00');
    assert.equal(byId.get(0x377), '50 30 31 54 30 34 00 00');
    assert.equal(byId.get(0x35f), '00 00 01 07 2C 01 00 00');
    assert.equal(byId.get(0x382), '4C 46 50 2D 42 4D 53 00');
    assert.ok(!byId.has(0x359) && !byId.has(0x35c));
  });

  it('clamps to each field and never sends a negative current limit; refuses a value that is not a number', () => {
    const layout = family('luxpower').layout;
    const f = encodePylonFrame(0x351, { ...values, chargeCurrent: -5, dischargeCurrent: 5000 }, layout);
    assert.equal(hexOf(f), '28 02 00 00 FF 7F E0 01');
    assert.equal(hexOf(encodePylonFrame(0x355, { ...values, soc: 101.4 }, family('pylon').layout)), '65 00 62 00');
    assert.throws(
      () => encodePylonFrame(0x356, { ...values, voltage: Number.NaN }, layout),
      (err: unknown) =>
        err instanceof FrameError && err.kind === 'range' && /voltage is not a number/.test(err.message),
    );
  });

  it('any values give frames of the family DLCs with fields inside their ranges', () => {
    const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true });
    fc.assert(
      fc.property(fc.constantFrom(...PYLON_FAMILIES), finite, finite, finite, (fam, a, b, c) => {
        const v = { ...values, chargeCurrent: a, dischargeCurrent: b, voltage: c, current: a, soc: b };
        for (const frame of encodePylonFrames(v, fam)) {
          assert.ok(frame.data.length >= 2 && frame.data.length <= 8);
          if (frame.id === 0x351) {
            const view = new DataView(frame.data.buffer);
            assert.ok(view.getInt16(2, true) >= 0 && view.getInt16(4, true) >= 0);
          }
        }
      }),
    );
  });

  it('manufacturer names: printable ASCII up to 8; never PYLON (or another name a GX overrides limits for) to a Victron GX', () => {
    assert.equal(manufacturerProblem(family('pylon'), 'PYLON'), null);
    assert.match(manufacturerProblem(family('victron'), 'PYLON') ?? '', /not sent to a Victron GX.*52\.8 V/);
    assert.match(manufacturerProblem(family('victron'), 'byd') ?? '', /not sent/);
    assert.equal(manufacturerProblem(family('victron'), 'LFPBANK'), null);
    assert.match(manufacturerProblem(family('pylon'), 'TOOLONGNAME') ?? '', /1 to 8 printable ASCII/);
    assert.match(manufacturerProblem(family('pylon'), 'ÄB') ?? '', /printable ASCII/);
  });
});

describe('inverter frames', () => {
  const frame = (id: number, ...bytes: number[]): CanFrame => ({ id, data: Uint8Array.from(bytes) });

  it('0x305 / 0x306 are keep-alives; Victron 0x307 says "VIC"; LuxPower 0x300 bit 0 asks for a shutdown', () => {
    assert.deepEqual(decodeInverterFrame(frame(0x305, 0, 0, 0, 0, 0, 0, 0, 0)), { kind: 'keep-alive', id: 0x305 });
    assert.deepEqual(decodeInverterFrame(frame(0x306, 0, 0, 0, 0, 0, 0, 0, 0)), { kind: 'keep-alive', id: 0x306 });
    assert.deepEqual(decodeInverterFrame(frame(0x307, 0x12, 0x34, 0x56, 0x78, 0x56, 0x49, 0x43, 0)), {
      kind: 'victron',
      id: 0x307,
    });
    assert.deepEqual(decodeInverterFrame(frame(0x307, 0, 0, 0, 0, 0, 0, 0, 0)), { kind: 'keep-alive', id: 0x307 });
    assert.deepEqual(decodeInverterFrame(frame(0x300, 0x01)), { kind: 'shutdown-request', id: 0x300, shutdown: true });
    assert.deepEqual(decodeInverterFrame(frame(0x351, 1, 2)), { kind: 'other', id: 0x351 });
    assert.deepEqual(decodeInverterFrame({ id: 0x305, data: new Uint8Array(8), extended: true }), {
      kind: 'other',
      id: 0x305,
    });
  });

  it('an SMA Sunny Island 0x305 carries its own voltage, current, temperature and SOC', () => {
    // 52.0 V, −10.0 A, 25.0 °C, 80 %.
    assert.deepEqual(decodeInverterFrame(frame(0x305, 0x08, 0x02, 0x9c, 0xff, 0xfa, 0x00, 0x50, 0x00), family('sma')), {
      kind: 'sma-values',
      id: 0x305,
      voltage: 52,
      current: -10,
      temperature: 25,
      soc: 80,
    });
  });
});
