import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PARAMETER_GROUPS, checkParameters, type PackAlarms, type PackAnalog } from '../../src/protocol';
import {
  ModbusError,
  READ_HOLDING,
  WRITE_MULTIPLE,
  bytesHex,
  crc16Modbus,
  decodeReplyPdu,
  decodeRtuRequest,
  encodeMbap,
  encodePdu,
  encodeReadReplyPdu,
  encodeRtu,
  encodeRtuRequest,
  exceptionName,
  replyRegisters,
  rtuReplyLength,
  type ModbusRequest,
} from '../../src/protocol/modbus';
import { MbapStreamFramer, RtuStreamFramer, type ModbusStreamEvent } from '../../src/protocol/modbus-stream';
import {
  MODBUS_PARAMETER_GROUPS,
  MODBUS_STATUS_RULES,
  decodeModbusAlarms,
  decodeModbusAnalog,
  decodeModbusIdentity,
  decodeModbusParameters,
  encodeModbusGroup,
  encodeModbusRealtime,
  registersOf,
  textRegisters,
  unknownModbusBits,
} from '../../src/protocol/pace-modbus';
import { defaultParameters } from '../../src/sim/defaults';

const hex = (text: string): Uint8Array => Uint8Array.from(text.split(' ').map((b) => parseInt(b, 16)));
const read = (unit: number, start: number, count: number): ModbusRequest => ({
  unit,
  function: READ_HOLDING,
  start,
  count,
});

/** Requests captured from hosts talking to PACE packs (docs/pace-modbus.md#sources): start, count, bytes. */
const CAPTURED_REQUESTS: readonly [number, number, string][] = [
  [0, 8, '01 03 00 00 00 08 44 0C'],
  [9, 4, '01 03 00 09 00 04 94 0B'],
  [15, 22, '01 03 00 0F 00 16 F4 07'],
  [60, 55, '01 03 00 3C 00 37 C4 10'],
  [0, 119, '01 03 00 00 00 77 05 EC'],
  [0, 120, '01 03 00 00 00 78 45 E8'],
];

/** A realtime reply as a V1.3 pack would send it for `regs` (registers 0..n-1). */
const replyFrame = (unit: number, regs: readonly number[]): Uint8Array => encodeRtu(unit, encodeReadReplyPdu(regs));

const frames = (events: readonly ModbusStreamEvent[]): Uint8Array[] =>
  events.flatMap((e) => (e.type === 'frame' ? [e.bytes] : []));

describe('PACE Modbus: RTU framing', () => {
  it('encodes every captured request byte for byte, and reads it back', () => {
    for (const [start, count, bytes] of CAPTURED_REQUESTS) {
      const request = read(1, start, count);
      assert.deepEqual(encodeRtuRequest(request), hex(bytes), bytes);
      assert.deepEqual(decodeRtuRequest(hex(bytes)), request);
    }
  });

  it('the captured exception reply is exception 02, named, as a typed error', () => {
    const request = read(1, 0, 8);
    const frame = hex('01 83 02 C0 F1');
    assert.equal(crc16Modbus(frame, 3), 0xf1c0);
    const reply = decodeReplyPdu(request, frame.subarray(1, 3));
    assert.deepEqual(reply, { kind: 'exception', code: 2 });
    assert.throws(
      () => replyRegisters(request, reply),
      (err: unknown) =>
        err instanceof ModbusError &&
        err.kind === 'exception' &&
        err.exception === 2 &&
        err.message === 'Modbus exception 0x02 (illegal data address) from address 1 for registers 0..7',
    );
  });

  it('a reply whose byte count is not twice the registers asked for is refused, not sliced', () => {
    const request = read(1, 0, 8);
    const pdu = replyFrame(1, new Array<number>(7).fill(1)).subarray(1, -2);
    assert.throws(() => decodeReplyPdu(request, pdu), {
      name: 'ModbusError',
      message: /14 data bytes for 8 registers/,
    });
    assert.throws(() => decodeReplyPdu(request, Uint8Array.of(0x04, 2, 0, 0)), { message: /function 0x04/ });
  });

  it('a read reply through the framer gives its registers; lengths and hex as the link reports them', () => {
    const request = read(5, 0, 37);
    const values = Array.from({ length: 37 }, (_, i) => (i * 1031) & 0xffff);
    const reply = replyFrame(5, values);
    assert.equal(reply.length, rtuReplyLength(request));
    assert.equal(rtuReplyLength({ unit: 5, function: WRITE_MULTIPLE, start: 60, count: 4, values: [1, 2, 3, 4] }), 8);
    const framer = new RtuStreamFramer();
    framer.expect(request);
    const [event] = framer.push(reply);
    assert.ok(event?.type === 'frame');
    assert.equal(event.unit, 5);
    assert.deepEqual(replyRegisters(request, decodeReplyPdu(request, event.pdu)), values);
    assert.equal(bytesHex(hex('01 83 02 C0 F1')), '01 83 02 C0 F1');
    assert.equal(exceptionName(0x7f), 'unknown exception');
  });

  it('requests it cannot read: too short, a bad CRC, a function this map does not use', () => {
    assert.throws(() => decodeRtuRequest(hex('01 03 00 00')), { message: /too short/ });
    assert.throws(() => decodeRtuRequest(hex('01 03 00 00 00 08 44 0D')), { message: /CRC/ });
    assert.throws(() => decodeRtuRequest(encodeRtu(1, Uint8Array.of(0x06, 0, 60, 0, 1))), { message: /function 0x06/ });
  });

  it('writes: 0x10 with the values, confirmed by start and count only when they match', () => {
    const request: ModbusRequest = { unit: 3, function: WRITE_MULTIPLE, start: 82, count: 2, values: [160, 40] };
    assert.deepEqual(encodePdu(request), Uint8Array.of(0x10, 0, 82, 0, 2, 4, 0, 160, 0, 40));
    assert.deepEqual(decodeRtuRequest(encodeRtuRequest(request)), request);
    assert.deepEqual(decodeReplyPdu(request, Uint8Array.of(0x10, 0, 82, 0, 2)), {
      kind: 'written',
      start: 82,
      count: 2,
    });
    assert.throws(() => decodeReplyPdu(request, Uint8Array.of(0x10, 0, 83, 0, 2)), { name: 'ModbusError' });
  });

  it('refuses requests it cannot send: address 0 or above 247, too many registers, values out of range', () => {
    for (const bad of [read(0, 0, 1), read(248, 0, 1), read(1, 0, 126), read(1, 65535, 2)])
      assert.throws(() => encodeRtuRequest(bad), { name: 'ModbusError' });
    assert.throws(() => encodePdu({ unit: 1, function: WRITE_MULTIPLE, start: 60, count: 1, values: [70000] }), {
      message: /register value 70000/,
    });
  });

  it('the stream framer finds the same frames however the bytes are chunked, behind noise, with echoes', () => {
    const request = read(2, 0, 37);
    const sent = encodeRtuRequest(request);
    const reply = replyFrame(
      2,
      Array.from({ length: 37 }, (_, i) => i * 97),
    );
    const noise = hex('FD ED F7 CA 82 82 82 82 82 11 05 0D');
    const stream = new Uint8Array([...sent, ...noise, ...reply]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), (cuts) => {
        const framer = new RtuStreamFramer();
        framer.expect(request, sent);
        const events: ModbusStreamEvent[] = [];
        let at = 0;
        for (const n of [...cuts, stream.length]) {
          events.push(...framer.push(stream.subarray(at, at + n)));
          at = Math.min(stream.length, at + n);
          if (at >= stream.length) break;
        }
        assert.deepEqual(frames(events), [reply]);
        assert.equal(events.filter((e) => e.type === 'echo').length, 1);
        assert.equal(
          events.reduce((n, e) => n + (e.type === 'garbage' ? e.bytes : 0), 0),
          noise.length,
        );
        assert.equal(framer.bufferedBytes, 0);
      }),
    );
  });

  it('a damaged reply gives no frame and counts as damaged; the next good frame is found (resync)', () => {
    const request = read(1, 0, 8);
    const good = replyFrame(1, [1, 2, 3, 4, 5, 6, 7, 8]);
    const bad = good.slice();
    bad[5] = (bad[5] ?? 0) ^ 0x10;
    const framer = new RtuStreamFramer();
    framer.expect(request);
    assert.deepEqual(frames(framer.push(bad)), []);
    assert.equal(framer.damaged, 1);
    assert.deepEqual(frames(framer.push(good)), [good]);
  });

  it('knows how much of a reply is still to come once its header is in', () => {
    const request = read(1, 0, 37);
    const framer = new RtuStreamFramer();
    framer.expect(request);
    assert.equal(framer.remainingBytes, undefined);
    framer.push(replyFrame(1, new Array<number>(37).fill(0)).subarray(0, 10));
    assert.equal(framer.remainingBytes, 5 + 74 - 10);
  });

  it('ASCII frames (the master scanning its slaves on the link jack) are no Modbus frames', () => {
    const framer = new RtuStreamFramer();
    framer.expect(read(1, 0, 37));
    const ascii = new TextEncoder().encode('~250E46900000FD91\r~250F46900000FD90\r~250246900000FDA4\r');
    const events = framer.push(ascii);
    assert.deepEqual(frames(events), []);
    assert.equal(framer.damaged, 0);
  });

  it('Modbus-TCP: bytes that cannot start a header are skipped and counted', () => {
    const framer = new MbapStreamFramer();
    const frame = encodeMbap(1, 1, Uint8Array.of(0x83, 0x02));
    const events = framer.push(new Uint8Array([0xff, 0xff, 0xff, ...frame]));
    assert.deepEqual(
      events.map((e) => e.type),
      ['garbage', 'frame'],
    );
    assert.equal(events[0]?.type === 'garbage' ? events[0].bytes : 0, 3);
    framer.push(frame.subarray(0, 4));
    assert.equal(framer.bufferedBytes, 4);
    framer.reset();
    assert.equal(framer.bufferedBytes, 0);
  });

  it('Modbus-TCP: MBAP frames split anywhere come out whole, with their transaction', () => {
    const pdu = replyFrame(1, [10, 20]).subarray(1, -2);
    const a = encodeMbap(7, 1, pdu);
    const b = encodeMbap(8, 2, Uint8Array.of(0x83, 0x02));
    const joined = new Uint8Array([...a, ...b]);
    for (let cut = 1; cut < joined.length; cut++) {
      const framer = new MbapStreamFramer();
      const events = [...framer.push(joined.subarray(0, cut)), ...framer.push(joined.subarray(cut))];
      const got = events.flatMap((e) => (e.type === 'frame' ? [[e.transaction, e.unit, [...e.pdu]]] : []));
      assert.deepEqual(got, [
        [7, 1, [...pdu]],
        [8, 2, [0x83, 0x02]],
      ]);
    }
  });
});

describe('PACE Modbus: the V1.3 register map onto the canonical payloads', () => {
  it('signed values and scales as the map says: 0xFF38 → −2.00 A, 0xFF9C → −10.0 °C, 189 → 18.9 °C', () => {
    const regs = new Array<number>(37).fill(0);
    regs[0] = 0xff38;
    regs[1] = 5312;
    regs[2] = 87;
    regs[3] = 99;
    regs[4] = 8700;
    regs[5] = 10000;
    regs[6] = 10000;
    regs[7] = 12;
    for (let i = 0; i < 15; i++) regs[15 + i] = 3320 + i;
    regs[31] = 0xff9c;
    regs[32] = 189;
    regs[35] = 250;
    regs[36] = 0x8000;
    const analog = decodeModbusAnalog(registersOf(0, regs), 3);
    assert.equal(analog.current, -2);
    assert.equal(analog.voltage, 53.12);
    assert.equal(analog.soc, 87);
    assert.equal(analog.remainingAh, 87);
    assert.equal(analog.cycles, 12);
    assert.equal(analog.cellVoltages.length, 15, 'a 15-cell pack leaves slot 16 at 0');
    assert.equal(analog.cellVoltages[0], 3.32);
    assert.deepEqual(analog.temperatures, [-10, 18.9, 0, 0, 25, null]);
    assert.deepEqual(analog.temperatureRoles, ['cell', 'cell', 'cell', 'cell', 'mosfet', 'ambient']);
    assert.equal(analog.pack, 3);
    assert.equal(analog.online, true);
  });

  it('every status bit becomes its HMI code alone; the reserved ones are reported as unknown bits', () => {
    for (const rule of MODBUS_STATUS_RULES) {
      if (!('bit' in rule)) continue;
      const reg = rule.field.startsWith('warn') ? 9 : rule.field.startsWith('protect') ? 10 : 11;
      const high = rule.field.endsWith('2');
      const regs = registersOf(9, [0, 0, 0, 0]);
      regs.set(reg, 1 << (rule.bit + (high ? 8 : 0)));
      const alarms = decodeModbusAlarms(regs, 1);
      assert.deepEqual(alarms[rule.group], [rule.code], `${rule.field} bit ${String(rule.bit)}`);
      assert.deepEqual(unknownModbusBits(regs), []);
    }
    const reserved = registersOf(9, [0, 0, (1 << 3) | (1 << 6) | (1 << 7) | (1 << 13), 0]);
    assert.deepEqual(decodeModbusAlarms(reserved, 1).faults, []);
    assert.deepEqual(unknownModbusBits(reserved), [{ register: 11, bits: [3, 6, 7, 13] }]);
  });

  it('status bits: MOSFETs from bits 10/11 (not 8/9), mode from 8/9, balancing cells from register 12', () => {
    const regs = registersOf(9, [0, 0, (1 << 8) | (1 << 10) | (1 << 15), 0b1000_0000_0000_0101]);
    const alarms = decodeModbusAlarms(regs, 2);
    assert.equal(alarms.chargeMos, true);
    assert.equal(alarms.dischargeMos, false);
    assert.equal(alarms.state.mode, 'charging');
    assert.equal(alarms.state.heater, true);
    assert.deepEqual(alarms.balancingCells, [1, 3, 16]);
  });

  it('a reading and alarm state survive the registers a simulated pack sends', () => {
    const analog: PackAnalog = {
      pack: 4,
      cellVoltages: Array.from({ length: 16 }, (_, i) => (3300 + i) / 1000),
      temperatures: [21.5, 22, 22.5, 23, 30.1, -4.2],
      current: -12.34,
      voltage: 52.95,
      remainingAh: 71.2,
      fullAh: 100,
      designAh: 100,
      cycles: 321,
      soc: 71,
      soh: 100,
      online: true,
    };
    const alarms: PackAlarms = {
      pack: 4,
      balancingCells: [2, 9],
      alarms: ['COT', 'OV'],
      protections: ['FULLY'],
      faults: ['NTC'],
      chargeMos: true,
      dischargeMos: true,
      state: {
        mode: 'discharging',
        limiterActive: false,
        limiterEnabled: null,
        limiterGear: null,
        heater: false,
        chargerConnected: null,
        buzzer: null,
        ledAlarm: null,
      },
    };
    const regs = registersOf(0, encodeModbusRealtime(analog, alarms));
    assert.deepEqual(decodeModbusAnalog(regs, 4), {
      ...analog,
      temperatureRoles: decodeModbusAnalog(regs, 4).temperatureRoles,
    });
    assert.deepEqual(decodeModbusAlarms(regs, 4), alarms);
  });

  it('identity text: two characters per register, cut at NUL or 0xFF, trimmed', () => {
    const regs = registersOf(150, [
      ...textRegisters('P16S200A-21382-3.00T', 10),
      ...textRegisters('SN123', 10),
      ...[0x5041, 0x434b, 0x2031, 0xffff, 0x4142, 0, 0, 0, 0, 0],
    ]);
    assert.deepEqual(decodeModbusIdentity(regs), {
      firmware: 'P16S200A-21382-3.00T',
      serial: 'SN123',
      packSerial: 'PACK 1',
    });
  });

  it('parameters: every V1.3 group has the ASCII group’s fields (without enable flags), round trips, and passes the same rules', () => {
    for (const { group, fields } of MODBUS_PARAMETER_GROUPS) {
      const ascii = PARAMETER_GROUPS.find((g) => g.group === group);
      assert.ok(ascii, group);
      const names = new Set(fields.map((f) => f.name));
      const asciiNames = new Set(ascii.fields.map((f) => f.name));
      // Every register field is an ASCII field; every ASCII field but the enable flag and optional tails is a register.
      for (const name of names) assert.ok(asciiNames.has(name), `${group}.${name}`);
      for (const f of ascii.fields)
        if (f.name !== 'enabled' && !f.optional) assert.ok(names.has(f.name), `${group}.${f.name} has a register`);
    }
    const defaults = defaultParameters();
    const set: Record<string, Record<string, number>> = {};
    for (const { group, fields } of MODBUS_PARAMETER_GROUPS)
      // Discharge over-current as a magnitude, as the parameter path hands it on (the ASCII pack reads it negative).
      set[group] = Object.fromEntries(
        fields.map((f) => {
          const value = defaults[group]?.[f.name] as number;
          return [f.name, group === 'dischargeOverCurrent1' ? Math.abs(value) : value];
        }),
      );
    const regs = new Map<number, number>();
    for (const [group, values] of Object.entries(set))
      for (const run of encodeModbusGroup(group, values)) registersOf(run.start, run.values, regs);
    assert.deepEqual(decodeModbusParameters(regs), set);
    assert.doesNotThrow(() => checkParameters(set));
    assert.deepEqual(
      encodeModbusGroup('overCurrent2', set.overCurrent2 ?? {}).map((r) => r.start),
      [82, 113],
      'overCurrent2 is two writes',
    );
    assert.throws(() => encodeModbusGroup('limiterCurrent', { current: 10 }), /no PACE Modbus registers/);
    assert.throws(() => encodeModbusGroup('sleep', { cellVoltage: 3, delay: 600, enabled: true }), /sleep.enabled/);
  });
});
