import fc from 'fast-check';
import {
  reportableState,
  supportedCodes,
  temperatureRoles,
  type CommandSpec,
  type Dialect,
  type Fields,
} from '../../src/protocol';
import type { FieldDef } from '../../src/protocol/codec';
import { Q, toSi } from '../../src/protocol/units';

/**
 * Generators of values on the grid a field can carry, so encode → decode must give them back exactly.
 * Table-driven codecs get theirs from their own field tables; structured commands have one here.
 */
export interface CommandArbitraries {
  readonly request: fc.Arbitrary<Fields>;
  /** `request` is the request answered when the reply depends on it; otherwise any valid request is used. */
  readonly response: fc.Arbitrary<{ data: Fields; request?: Fields; options?: Fields; expected: Fields }>;
}

const INT_RANGE = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  s16: [-0x8000, 0x7fff],
  u24: [0, 0xffffff],
  u32: [0, 0xffffffff],
} as const;

export function fieldArbitrary(defs: readonly FieldDef[], direction: 'read' | 'write'): fc.Arbitrary<Fields> {
  const visible = defs.filter((d) => !d.hidden);
  const required = visible.filter((d, i) => !d.optional && !visible.slice(0, i).some((x) => x.optional));
  const optional = visible.slice(required.length);
  const one = (d: FieldDef): fc.Arbitrary<unknown> => {
    if (d.bool) return fc.boolean();
    const [min, max] = INT_RANGE[direction === 'write' ? (d.writeType ?? d.type) : d.type];
    return fc.integer({ min, max }).map((raw) => (d.q ? toSi(d.q, raw) : raw));
  };
  return fc
    .tuple(fc.tuple(...required.map(one)), fc.integer({ min: 0, max: optional.length }), fc.tuple(...optional.map(one)))
    .map(([req, keep, opt]) => {
      const out: Fields = {};
      required.forEach((d, i) => (out[d.name] = req[i]));
      optional.slice(0, keep).forEach((d, i) => (out[d.name] = opt[i]));
      return out;
    });
}

const raw16 = fc.integer({ min: 0, max: 0xffff });
const si = (q: (typeof Q)[keyof typeof Q], min: number, max: number): fc.Arbitrary<number> =>
  fc.integer({ min, max }).map((r) => toSi(q, r));

const printable = (max: number, extraPadding = ''): fc.Arbitrary<string> =>
  fc
    .string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .-_:'),
      maxLength: max,
    })
    .map((s) => s.replace(new RegExp(`^[ ${extraPadding}]+|[ ${extraPadding}]+$`, 'g'), ''));

const clock = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 19));

interface AnalogShape {
  cells: number;
  temps: number;
}

/** One pack in SI units on the dialect's grid; `soc`/`soh` follow the decoder's documented rules. */
function analogPack(dialect: Dialect, shape: AnalogShape, tail: number): fc.Arbitrary<Fields> {
  const temperatureQ = dialect === 'pace' ? Q.paceDeciKelvin : Q.deciKelvin;
  const temps = fc
    .array(fc.option(fc.integer({ min: 0, max: 0x7fff }), { nil: null, freq: 8 }), {
      minLength: shape.temps,
      maxLength: shape.temps,
    })
    .map((ts) => ts.map((t) => (t === null ? null : toSi(temperatureQ, t))));
  const cells = fc.array(fc.integer({ min: 2500, max: 3700 }), { minLength: shape.cells, maxLength: shape.cells });
  return fc
    .record({
      cells,
      temps,
      current: fc.integer({ min: -0x8000, max: 0x7fff }),
      remaining: raw16,
      full: raw16,
      design: raw16,
      cycles: raw16,
      soc: fc.integer({ min: 0, max: dialect === 'seplos' ? 1000 : 100 }),
      soh: fc.integer({ min: 0, max: dialect === 'seplos' ? 1000 : 100 }),
      wideRemaining: fc.integer({ min: 0, max: 0xffffff }),
      wideFull: fc.integer({ min: 20_000, max: 0xffffff }),
      voltageNoise: fc.integer({ min: -200, max: 200 }),
    })
    .map((r) => {
      const cellVoltages = r.cells.map((c) => c / 1000);
      const sumMv = r.cells.reduce((a, b) => a + b, 0);
      const pack: Record<string, unknown> = {
        pack: 1,
        cellVoltages,
        temperatures: r.temps,
        cycles: r.cycles,
        online: true,
      };
      // SOC / SOH as the decoder documents them: the exact ratio of the raw counts, halves up.
      const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a * 1000) / b) / 10 : null);
      if (dialect === 'pace') {
        Object.assign(pack, {
          current: toSi(Q.tenMa, r.current),
          voltage: (sumMv + r.voltageNoise) / 1000,
          remainingAh: toSi(Q.tenMah, r.remaining),
          fullAh: toSi(Q.tenMah, r.full),
          designAh: tail >= 1 ? toSi(Q.tenMah, r.design) : null,
        });
        pack.soc = tail >= 2 ? r.soc : ratio(r.remaining, r.full);
        pack.soh = tail >= 5 ? r.soh : tail >= 1 && r.design > 0 ? Math.min(100, ratio(r.full, r.design) ?? 0) : null;
      } else if (dialect === 'pylontech') {
        Object.assign(pack, {
          current: toSi(Q.hundredMa, r.current),
          voltage: (sumMv + r.voltageNoise) / 1000,
          remainingAh: r.wideRemaining / 1000,
          fullAh: r.wideFull / 1000,
          designAh: null,
          soc: ratio(r.wideRemaining, r.wideFull),
          soh: null,
        });
      } else if (dialect === 'seplos') {
        Object.assign(pack, {
          current: toSi(Q.tenMa, r.current),
          voltage: Math.round(sumMv / 10) / 100,
          remainingAh: toSi(Q.tenMah, r.remaining),
          fullAh: toSi(Q.tenMah, r.full),
          designAh: toSi(Q.tenMah, r.design),
          soc: r.soc / 10,
          soh: r.soh / 10,
        });
      } else {
        Object.assign(pack, {
          current: toSi(Q.tenMa, r.current),
          voltage: Math.round(sumMv / 10) / 100,
          remainingAh: toSi(Q.tenMah, r.remaining),
          fullAh: toSi(Q.tenMah, r.full),
          designAh: null,
          soc: r.soc,
          soh: r.soh,
        });
      }
      return pack;
    });
}

function analogResponse(dialect: Dialect): CommandArbitraries['response'] {
  const eg4 = dialect === 'eg4';
  return fc
    .record({
      broadcast: fc.boolean().map((b) => b && !eg4),
      count: fc.integer({ min: 1, max: 15 }),
      pack: fc.integer({ min: 0, max: 15 }),
      cells: fc.integer({ min: 4, max: 16 }),
      temps: fc.integer({ min: eg4 ? 2 : 1, max: 8 }),
      tail: fc.integer({ min: 0, max: 9 }),
    })
    .chain(({ broadcast, count, pack, cells, temps, tail }) =>
      fc
        .array(analogPack(dialect, { cells, temps }, tail), {
          minLength: broadcast ? count : 1,
          maxLength: broadcast ? count : 1,
        })
        .map((packs) => {
          const numbered = packs.map((p, i) => ({ ...p, pack: broadcast ? i + 1 : eg4 ? 1 : pack }));
          const data = { packs: numbered };
          // The decoder says where each sensor sits, by the dialect's sensor order.
          const expected = {
            packs: numbered.map((p) => ({ ...p, temperatureRoles: temperatureRoles(dialect, temps) })),
          };
          return {
            data,
            expected,
            request: { pack: broadcast ? 0xff : eg4 ? 1 : pack },
            options: { paceTailFields: tail },
          };
        }),
    );
}

function alarmsResponse(dialect: Dialect): CommandArbitraries['response'] {
  const codes = supportedCodes(dialect);
  const sorted = (list: string[]): string[] => [...new Set(list)].sort();
  const subset = (list: string[]): fc.Arbitrary<string[]> => fc.subarray(list).map(sorted);
  const maxCell = dialect === 'eg4' ? 32 : dialect === 'pylontech' ? 0 : 16;
  const pack = fc.record({
    balancingCells: maxCell
      ? fc.uniqueArray(fc.integer({ min: 1, max: maxCell })).map((c) => c.sort((a, b) => a - b))
      : fc.constant([]),
    alarms: subset(codes.alarms).filter((a) => !(a.includes('TUV') && a.includes('TOV'))),
    protections: subset(codes.protections),
    faults: subset(codes.faults),
    chargeMos: fc.boolean(),
    dischargeMos: fc.boolean(),
    state: fc.record({
      mode: fc.constantFrom(null, 'charging', 'discharging', 'standby', 'float', 'shutdown'),
      limiterActive: fc.boolean(),
      limiterEnabled: fc.boolean(),
      limiterGear: fc.constantFrom('low', 'high'),
      heater: fc.boolean(),
      chargerConnected: fc.boolean(),
      buzzer: fc.boolean(),
      ledAlarm: fc.boolean(),
    }),
  });
  const eg4 = dialect === 'eg4';
  return fc
    .record({
      broadcast: fc.boolean().map((b) => b && !eg4),
      count: fc.integer({ min: 1, max: 15 }),
      pack: fc.integer({ min: 0, max: 15 }),
    })
    .chain(({ broadcast, count, pack: single }) =>
      fc.array(pack, { minLength: broadcast ? count : 1, maxLength: broadcast ? count : 1 }).map((packs) => {
        const data = { packs: packs.map((p, i) => ({ pack: broadcast ? i + 1 : eg4 ? 1 : single, ...p })) };
        // What the dialect has no bit for comes back null.
        const expected = { packs: data.packs.map((p) => ({ ...p, state: reportableState(dialect, p.state) })) };
        return {
          data,
          expected,
          request: { pack: broadcast ? 0xff : eg4 ? 1 : single },
          options: { cellCount: 16, tempCount: 4 },
        };
      }),
    );
}

const historyRecord = fc.record({
  time: clock,
  cellVoltages: fc.array(si(Q.mV, 0, 0xffff), { minLength: 1, maxLength: 16 }),
  temperatures: fc.array(si(Q.paceDeciKelvin, 0, 0xffff), { minLength: 1, maxLength: 8 }),
  current: si(Q.tenMa, -0x8000, 0x7fff),
  voltage: si(Q.mV, 0, 0xffff),
  remainingAh: si(Q.tenMah, 0, 0xffff),
  fullAh: si(Q.tenMah, 0, 0xffff),
  cycles: raw16,
  alarms: fc.subarray(supportedCodes('pace').alarms).map((a) => [...a].sort()),
  protections: fc.subarray(supportedCodes('pace').protections).map((a) => [...a].sort()),
  faults: fc.subarray(supportedCodes('pace').faults).map((a) => [...a].sort()),
  chargeMos: fc.boolean(),
  dischargeMos: fc.boolean(),
  powerOn: fc.boolean(),
});

const same = (arb: fc.Arbitrary<Fields>, request?: Fields): CommandArbitraries['response'] =>
  arb.map((value) => {
    const data = { ...value };
    return request ? { data, expected: data, request } : { data, expected: data };
  });

const EMPTY = fc.constant<Fields>({});

/** Structured commands; everything else is derived from codec field tables or is empty. */
function special(spec: CommandSpec, dialect: Dialect): Partial<CommandArbitraries> | undefined {
  const packRequest =
    dialect === 'eg4'
      ? fc.integer({ min: 0, max: 15 }).map((pack) => ({ pack }))
      : fc.integer({ min: 0, max: 255 }).map((pack) => ({ pack }));
  switch (spec.name) {
    case 'analog':
      return { request: packRequest, response: analogResponse(dialect) };
    case 'alarms':
      return { request: packRequest, response: alarmsResponse(dialect) };
    case 'history':
      return {
        response: fc.oneof(EMPTY, historyRecord).map((data) => ({ data, expected: data, request: { index: 0 } })),
      };
    case 'readClock':
      return { response: same(clock.map((time) => ({ time }))) };
    case 'writeClock':
      return { request: clock.map((time) => ({ time })) };
    case 'version':
      return dialect === 'pace'
        ? {
            response: same(
              fc.record({ version: printable(20), bluetoothName: printable(20) }, { requiredKeys: ['version'] }),
            ),
          }
        : {
            request: packRequest,
            response: fc
              .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
              .map(([a, b, c, d, e]) => {
                const data = { manufacturerVersion: `${a}.${b}`, mainlineVersion: `${c}.${d}.${e}` };
                return { data, expected: data, request: { pack: 2 } };
              }),
          };
    case 'serial':
      return dialect === 'pace'
        ? { response: same(fc.record({ bmsSerial: printable(20), packSerial: printable(20) })) }
        : { request: packRequest, response: same(fc.record({ serial: printable(16) }), { pack: 2 }) };
    case 'manufacturer':
      return {
        response: same(
          fc.record({
            deviceName: printable(dialect === 'eg4' ? 20 : 10),
            softwareVersion: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `${a}.${b}`),
            manufacturer: printable(20, '-'),
          }),
        ),
      };
    case 'switchControl':
      return {
        response: fc.record({ code: fc.nat(255), controlState: fc.nat(255) }).map((data) => ({
          data,
          request: { code: data.code },
          expected: {
            ...data,
            buzzerEnabled: (data.controlState & 1) === 1,
            currentLimitLowGear: (data.controlState & 8) === 8,
          },
        })),
      };
    case 'chargeMos':
    case 'dischargeMos':
      return {
        request: fc.boolean().map((on) => ({ on })),
        response: fc.nat(255).map((state) => ({
          data: { instructionState: state },
          request: { on: true },
          expected: { instructionState: state, chargeMos: (state & 2) === 2, dischargeMos: (state & 4) === 4 },
        })),
      };
    case 'chargeLimits':
      return {
        request: packRequest,
        response: same(
          fc.record({
            chargeVoltage: si(Q.mV, 0, 0xffff),
            dischargeVoltage: si(Q.mV, 0, 0xffff),
            chargeCurrent: si(Q.hundredMa, -0x8000, 0x7fff),
            dischargeCurrent: si(Q.hundredMa, -0x8000, 0x7fff),
            chargeEnabled: fc.boolean(),
            dischargeEnabled: fc.boolean(),
            forceCharge1: fc.boolean(),
            forceCharge2: fc.boolean(),
            fullChargeRequest: fc.boolean(),
          }),
          { pack: 2 },
        ),
      };
    case 'protocolVersion':
      return { response: same(fc.integer({ min: 0x20, max: 0x2f }).map((protocolVersion) => ({ protocolVersion }))) };
    default:
      return undefined;
  }
}

export function arbitrariesFor(spec: CommandSpec, dialect: Dialect): CommandArbitraries | undefined {
  const extra = special(spec, dialect) ?? {};
  const ctx = { dialect, version: 0, address: 0, request: {} };
  const fromTable = (codec: CommandSpec['request']): fc.Arbitrary<Fields> | undefined => {
    if (codec.fields) return fieldArbitrary(codec.fields, codec.direction ?? 'read');
    try {
      // Codecs without data (acknowledgements, constant requests) carry `{}` both ways.
      codec.encode({}, ctx);
      return Object.keys(codec.decode(new Uint8Array(0), ctx)).length === 0 ? EMPTY : undefined;
    } catch {
      return undefined;
    }
  };
  const request = extra.request ?? fromTable(spec.request);
  const responseFields = extra.response ? undefined : fromTable(spec.response);
  const response = extra.response ?? (responseFields ? same(responseFields) : undefined);
  return request && response ? { request, response } : undefined;
}
