import { PACE_STATUS_RULES, type FlagRule, type PackAlarms, type PackState } from './alarms';
import type { PackAnalog } from './analog';
import type { PackIdentity } from './identity';
import type { ParameterSet } from './parameter-rules';
import { temperatureRoles } from './temperature-roles';
import { Q, fromSi, toSi, type Quantity } from './units';

/**
 * The PACE Modbus register map, V1.3 (docs/pace-modbus.md#register-map): holding registers at
 * decimal addresses, big-endian, read with 0x03 and written with 0x10. Every field is a table row; a
 * firmware that moves one is another row, not new code. Decoders produce the same payloads as the
 * ASCII dialects (SI units, HMI codes), so the bank layer and every node work unchanged.
 */

/** A register's content: unsigned, signed, or a byte kept in the low half (the high byte 0). */
export type RegisterType = 'u16' | 's16' | 'u8';

export interface RegisterField {
  readonly name: string;
  readonly reg: number;
  readonly type: RegisterType;
  readonly q?: Quantity;
}

/** 0.1 °C with no offset (not the ASCII protocol's 0.1 K + 2730: docs/pace-modbus.md#pitfalls). */
const DECI_CELSIUS: Quantity = { num: 1, den: 10 };

/** Blocks read together: contiguous registers a V1.3 pack answers (reserved ones inside included). */
export interface RegisterBlock {
  readonly name: 'realtime' | 'parameters' | 'version' | 'modelSerial' | 'packSerial';
  readonly start: number;
  readonly count: number;
}

export const REALTIME_BLOCK: RegisterBlock = { name: 'realtime', start: 0, count: 37 };
export const PARAMETER_BLOCK: RegisterBlock = { name: 'parameters', start: 60, count: 55 };
export const IDENTITY_BLOCKS: readonly RegisterBlock[] = [
  { name: 'version', start: 150, count: 10 },
  { name: 'modelSerial', start: 160, count: 10 },
  { name: 'packSerial', start: 170, count: 10 },
];
/**
 * The realtime block without its reserved registers (8, 13–14), for firmware that answers
 * exception 02 when a read touches them (docs/pace-modbus.md#pitfalls).
 */
export const REALTIME_SAFE_BLOCKS: readonly RegisterBlock[] = [
  { name: 'realtime', start: 0, count: 8 },
  { name: 'realtime', start: 9, count: 4 },
  { name: 'realtime', start: 15, count: 22 },
];

/** Fixed 16 cell slots, 4 cell sensors, MOSFET and ambient: the map has no count registers. */
export const CELL_SLOTS = 16;
const TEMPERATURE_REGISTERS = [31, 32, 33, 34, 35, 36] as const;

export const REALTIME_FIELDS: readonly RegisterField[] = [
  { name: 'current', reg: 0, type: 's16', q: Q.tenMa },
  { name: 'voltage', reg: 1, type: 'u16', q: Q.tenMv },
  { name: 'soc', reg: 2, type: 'u8', q: Q.percent },
  { name: 'soh', reg: 3, type: 'u8', q: Q.percent },
  { name: 'remainingAh', reg: 4, type: 'u16', q: Q.tenMah },
  { name: 'fullAh', reg: 5, type: 'u16', q: Q.tenMah },
  { name: 'designAh', reg: 6, type: 'u16', q: Q.tenMah },
  { name: 'cycles', reg: 7, type: 'u16' },
  { name: 'warning', reg: 9, type: 'u16' },
  { name: 'protection', reg: 10, type: 'u16' },
  { name: 'faultStatus', reg: 11, type: 'u16' },
  { name: 'balancing', reg: 12, type: 'u16' },
];

/**
 * Each flag register is the ASCII 0x44 byte pair, high byte = state 2, low byte = state 1: the ASCII
 * PACE rows apply to the halves. Register 11's low byte is the fault byte without the bits V1.3 leaves
 * reserved (3, 6, 7), its high byte the operating status.
 */
export const FLAG_HALVES: readonly { readonly field: string; readonly reg: number; readonly high: boolean }[] = [
  { field: 'warn1', reg: 9, high: false },
  { field: 'warn2', reg: 9, high: true },
  { field: 'protect1', reg: 10, high: false },
  { field: 'protect2', reg: 10, high: true },
  { field: 'fault', reg: 11, high: false },
  { field: 'status', reg: 11, high: true },
];
const RESERVED_FAULT_BITS = new Set([3, 6, 7]);
export const MODBUS_STATUS_RULES: readonly FlagRule[] = PACE_STATUS_RULES.filter(
  (r) => !(r.field === 'fault' && 'bit' in r && RESERVED_FAULT_BITS.has(r.bit)),
);

/** Register 11, high byte (bits 8–15 of the register). */
const STATUS = {
  charging: 0,
  discharging: 1,
  chargeMos: 2,
  dischargeMos: 3,
  limiterActive: 4,
  chargerReversed: 6,
  heater: 7,
} as const;

/**
 * Parameter groups on registers 60–114 (docs/pace-modbus.md#parameters), by the ASCII groups' names
 * and fields so one set of rules checks both. V1.3 has no enable flags and no limiter current.
 */
export interface RegisterGroup {
  readonly group: string;
  readonly fields: readonly RegisterField[];
}

const mV = (name: string, reg: number): RegisterField => ({ name, reg, type: 'u16', q: Q.mV });
const amps = (name: string, reg: number): RegisterField => ({ name, reg, type: 'u16', q: Q.amp });
const celsius = (name: string, reg: number): RegisterField => ({ name, reg, type: 's16', q: DECI_CELSIUS });
const tenths = (name: string, reg: number): RegisterField => ({ name, reg, type: 'u8', q: Q.tenthSecond });
const ms25 = (name: string, reg: number): RegisterField => ({ name, reg, type: 'u8', q: Q.ms25 });

const voltage = (group: string, first: number): RegisterGroup => ({
  group,
  fields: [mV('alarm', first), mV('protect', first + 1), mV('release', first + 2), tenths('delay', first + 3)],
});
const temperature = (group: string, first: number, names: readonly string[]): RegisterGroup => ({
  group,
  fields: names.map((name, i) => celsius(name, first + i)),
});

/** Cell temperature groups: charge alarm, protect, release, then the same for discharge. */
const CHARGE_DISCHARGE_THRESHOLDS = ['charge', 'discharge'].flatMap((d) =>
  ['Alarm', 'Protect', 'Release'].map((t) => `${d}${t}`),
);

export const MODBUS_PARAMETER_GROUPS: readonly RegisterGroup[] = [
  voltage('cellOverVoltage', 64),
  voltage('cellUnderVoltage', 72),
  voltage('packOverVoltage', 60),
  voltage('packUnderVoltage', 68),
  { group: 'chargeOverCurrent', fields: [amps('alarm', 76), amps('protect', 77), tenths('delay', 78)] },
  // Positive amperes here; the ASCII protocol reads them back negative (docs/pace-modbus.md#pitfalls).
  { group: 'dischargeOverCurrent1', fields: [amps('alarm', 79), amps('protect', 80), tenths('delay', 81)] },
  temperature('cellHighTemperature', 84, CHARGE_DISCHARGE_THRESHOLDS),
  temperature('cellLowTemperature', 90, CHARGE_DISCHARGE_THRESHOLDS),
  temperature('mosHighTemperature', 96, ['alarm', 'protect', 'release']),
  {
    group: 'overCurrent2',
    fields: [
      amps('dischargeProtect', 82),
      ms25('dischargeDelay', 83),
      amps('chargeProtect', 113),
      ms25('chargeDelay', 114),
    ],
  },
  { group: 'shortCircuit', fields: [{ name: 'delay', reg: 111, type: 'u8', q: Q.us25 }] },
  temperature('ambientTemperature', 99, [
    'highAlarm',
    'highProtect',
    'highRelease',
    'lowAlarm',
    'lowProtect',
    'lowRelease',
  ]),
  { group: 'sleep', fields: [mV('cellVoltage', 109), { name: 'delay', reg: 110, type: 'u16', q: Q.minute }] },
  {
    group: 'fullCharge',
    fields: [
      mV('fullChargeVoltage', 107),
      { name: 'fullChargeCurrent', reg: 108, type: 'u16', q: Q.mA },
      { name: 'lowSocAlarm', reg: 112, type: 'u8', q: Q.percent },
    ],
  },
  { group: 'balancing', fields: [mV('startVoltage', 105), mV('deltaVoltage', 106)] },
];

/** Registers by address, as read (several blocks may make up one picture of a pack). */
export type Registers = ReadonlyMap<number, number>;

export function registersOf(
  start: number,
  values: readonly number[],
  into = new Map<number, number>(),
): Map<number, number> {
  values.forEach((v, i) => into.set(start + i, v));
  return into;
}

function raw(regs: Registers, field: RegisterField): number | undefined {
  const value = regs.get(field.reg);
  if (value === undefined) return undefined;
  if (field.type === 's16') return value >= 0x8000 ? value - 0x10000 : value;
  return field.type === 'u8' ? value & 0xff : value;
}

function si(regs: Registers, field: RegisterField): number | undefined {
  const value = raw(regs, field);
  return value === undefined ? undefined : field.q ? toSi(field.q, value) : value;
}

function need(regs: Registers, field: RegisterField): number {
  const value = si(regs, field);
  if (value === undefined) throw new RangeError(`register ${String(field.reg)} (${field.name}) was not read`);
  return value;
}

const FIELD = new Map(REALTIME_FIELDS.map((f) => [f.name, f]));
const field = (name: string): RegisterField => FIELD.get(name) as RegisterField;

/** Temperatures far outside what a pack sees are a sensor that is absent or broken ("or invalid" in V1.3). */
const PLAUSIBLE_DECI_C = [-500, 1500] as const;

/** One pack's realtime registers (0–36) as the canonical analog reading. */
export function decodeModbusAnalog(regs: Registers, pack: number): PackAnalog {
  const cells: number[] = [];
  for (let i = 0; i < CELL_SLOTS; i++) cells.push((regs.get(15 + i) ?? 0) / 1000);
  // A pack with fewer cells leaves its last slots at 0.
  while (cells.length > 0 && cells[cells.length - 1] === 0) cells.pop();
  const temperatures = TEMPERATURE_REGISTERS.map((reg) => {
    const value = raw(regs, { name: 'temperature', reg, type: 's16' });
    return value === undefined || value < PLAUSIBLE_DECI_C[0] || value > PLAUSIBLE_DECI_C[1]
      ? null
      : toSi(DECI_CELSIUS, value);
  });
  return {
    pack,
    cellVoltages: cells,
    temperatures,
    temperatureRoles: temperatureRoles('pace', temperatures.length),
    current: need(regs, field('current')),
    voltage: need(regs, field('voltage')),
    remainingAh: need(regs, field('remainingAh')),
    fullAh: need(regs, field('fullAh')),
    designAh: si(regs, field('designAh')) ?? null,
    cycles: need(regs, field('cycles')),
    soc: si(regs, field('soc')) ?? null,
    soh: si(regs, field('soh')) ?? null,
    online: true,
  };
}

function halves(regs: Registers): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of FLAG_HALVES) {
    const value = regs.get(h.reg) ?? 0;
    out[h.field] = h.high ? value >> 8 : value & 0xff;
  }
  return out;
}

const bitSet = (value: number | undefined, bit: number): boolean => (((value ?? 0) >> bit) & 1) === 1;

/** One pack's flag registers (9–12) as the canonical alarm state, with the ASCII protocol's HMI codes. */
export function decodeModbusAlarms(regs: Registers, pack: number): PackAlarms & { readonly state: PackState } {
  const bytes = halves(regs);
  const groups = { alarms: new Set<string>(), protections: new Set<string>(), faults: new Set<string>() };
  for (const rule of MODBUS_STATUS_RULES)
    if ('bit' in rule && bitSet(bytes[rule.field], rule.bit)) groups[rule.group].add(rule.code);
  const status = bytes.status ?? 0;
  const balance = regs.get(12) ?? 0;
  const state: PackState = {
    mode: bitSet(status, STATUS.charging) ? 'charging' : bitSet(status, STATUS.discharging) ? 'discharging' : 'standby',
    limiterActive: bitSet(status, STATUS.limiterActive),
    limiterEnabled: null,
    limiterGear: null,
    heater: bitSet(status, STATUS.heater),
    chargerConnected: null,
    buzzer: null,
    ledAlarm: null,
  };
  return {
    pack,
    balancingCells: Array.from({ length: CELL_SLOTS }, (_, i) => i + 1).filter((cell) => bitSet(balance, cell - 1)),
    alarms: [...groups.alarms].sort(),
    protections: [...groups.protections].sort(),
    faults: [...groups.faults].sort(),
    chargeMos: bitSet(status, STATUS.chargeMos),
    dischargeMos: bitSet(status, STATUS.dischargeMos),
    state,
  };
}

/** Bits set in the flag registers that no row names (reserved in V1.3), for the diagnosis. */
export function unknownModbusBits(regs: Registers): { readonly register: number; readonly bits: readonly number[] }[] {
  const named = new Map<number, Set<number>>();
  for (const rule of MODBUS_STATUS_RULES) {
    if (!('bit' in rule)) continue;
    const half = FLAG_HALVES.find((h) => h.field === rule.field);
    if (!half) continue;
    const set = named.get(half.reg) ?? new Set<number>();
    set.add(rule.bit + (half.high ? 8 : 0));
    named.set(half.reg, set);
  }
  const known11 = named.get(11) ?? new Set<number>();
  for (const bit of Object.values(STATUS)) known11.add(bit + 8);
  named.set(11, known11);
  const out: { register: number; bits: number[] }[] = [];
  for (const reg of [9, 10, 11]) {
    const value = regs.get(reg) ?? 0;
    const bits = Array.from({ length: 16 }, (_, b) => b).filter((b) => bitSet(value, b) && !named.get(reg)?.has(b));
    if (bits.length) out.push({ register: reg, bits });
  }
  return out;
}

/** Text of an identity block: two characters per register, high byte first, cut at NUL or 0xFF, trimmed. */
export function registerText(values: readonly number[]): string {
  let text = '';
  for (const v of values) {
    for (const byte of [v >> 8, v & 0xff]) {
      if (byte === 0x00 || byte === 0xff) return text.trim();
      text += String.fromCharCode(byte);
    }
  }
  return text.trim();
}

export function textRegisters(text: string, count: number): number[] {
  const bytes = Array.from({ length: count * 2 }, (_, i) => (i < text.length ? text.charCodeAt(i) & 0xff : 0));
  return Array.from({ length: count }, (_, i) => ((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number));
}

/** Version (150–159), model serial (160–169) and pack serial (170–179) as the canonical identity. */
export function decodeModbusIdentity(regs: Registers): PackIdentity {
  const block = (start: number): string | undefined => {
    const values: number[] = [];
    for (let r = start; r < start + 10; r++) {
      const v = regs.get(r);
      if (v === undefined) return undefined;
      values.push(v);
    }
    return registerText(values) || undefined;
  };
  const firmware = block(150);
  const serial = block(160);
  const packSerial = block(170);
  return {
    ...(firmware !== undefined ? { firmware } : {}),
    ...(serial !== undefined ? { serial } : {}),
    ...(packSerial !== undefined ? { packSerial } : {}),
  };
}

/** Registers 60–114 as the canonical parameter set (every group whose registers were all read). */
export function decodeModbusParameters(regs: Registers): ParameterSet {
  const set: ParameterSet = {};
  for (const { group, fields } of MODBUS_PARAMETER_GROUPS) {
    const values: Record<string, number> = {};
    for (const f of fields) {
      const value = si(regs, f);
      if (value === undefined) break;
      values[f.name] = value;
    }
    if (Object.keys(values).length === fields.length) set[group] = values;
  }
  return set;
}

/** Contiguous registers one 0x10 request writes. */
export interface RegisterRun {
  readonly start: number;
  readonly values: readonly number[];
}

/**
 * A whole group's values (SI) as register writes, one per contiguous run (overCurrent2 and
 * fullCharge are split across the map). Throws a RangeError for a missing field, a value that does
 * not fit its register, or a group the map lacks.
 */
export function encodeModbusGroup(group: string, values: Readonly<Record<string, number | boolean>>): RegisterRun[] {
  const spec = MODBUS_PARAMETER_GROUPS.find((g) => g.group === group);
  if (!spec) throw new RangeError(`parameter group ${group} has no PACE Modbus registers`);
  const known = new Set(spec.fields.map((f) => f.name));
  for (const name of Object.keys(values))
    if (!known.has(name)) throw new RangeError(`${group}.${name} has no PACE Modbus register`);
  const words = spec.fields
    .map((f) => {
      const value = values[f.name];
      if (typeof value !== 'number') throw new RangeError(`${group}.${f.name} is required`);
      const rawValue = f.q ? fromSi(f.q, value, `${group}.${f.name}`) : Math.round(value);
      const [min, max] = f.type === 's16' ? [-0x8000, 0x7fff] : f.type === 'u8' ? [0, 0xff] : [0, 0xffff];
      if (rawValue < min || rawValue > max)
        throw new RangeError(`${group}.${f.name} = ${String(value)} does not fit its register`);
      return { reg: f.reg, word: rawValue & 0xffff };
    })
    .sort((a, b) => a.reg - b.reg);
  const runs: { start: number; values: number[] }[] = [];
  for (const { reg, word } of words) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.values.length === reg) last.values.push(word);
    else runs.push({ start: reg, values: [word] });
  }
  return runs;
}

/** The realtime registers a pack with this reading and state sends (the simulator's side). */
export function encodeModbusRealtime(analog: PackAnalog, alarms: PackAlarms): number[] {
  const regs = new Array<number>(REALTIME_BLOCK.count).fill(0);
  const put = (name: string, value: number | null): void => {
    const f = field(name);
    if (value === null) return;
    const rawValue = f.q ? fromSi(f.q, value, name) : Math.round(value);
    regs[f.reg] = rawValue & (f.type === 'u8' ? 0xff : 0xffff);
  };
  put('current', analog.current);
  put('voltage', analog.voltage);
  put('soc', analog.soc);
  put('soh', analog.soh);
  put('remainingAh', analog.remainingAh);
  put('fullAh', analog.fullAh);
  put('designAh', analog.designAh);
  put('cycles', analog.cycles);
  analog.cellVoltages.slice(0, CELL_SLOTS).forEach((v, i) => {
    regs[15 + i] = Math.round(v * 1000);
  });
  TEMPERATURE_REGISTERS.forEach((reg, i) => {
    const t = analog.temperatures[i];
    regs[reg] = t === null || t === undefined ? 0 : fromSi(DECI_CELSIUS, t, 'temperature') & 0xffff;
  });
  const bytes: Record<string, number> = {};
  for (const rule of MODBUS_STATUS_RULES) {
    if (!('bit' in rule)) continue;
    if (alarms[rule.group].includes(rule.code)) bytes[rule.field] = (bytes[rule.field] ?? 0) | (1 << rule.bit);
  }
  const state = alarms.state;
  let status = 0;
  if (state?.mode === 'charging') status |= 1 << STATUS.charging;
  if (state?.mode === 'discharging') status |= 1 << STATUS.discharging;
  if (alarms.chargeMos) status |= 1 << STATUS.chargeMos;
  if (alarms.dischargeMos) status |= 1 << STATUS.dischargeMos;
  if (state?.limiterActive) status |= 1 << STATUS.limiterActive;
  if (state?.heater) status |= 1 << STATUS.heater;
  bytes.status = status;
  for (const h of FLAG_HALVES) {
    const value = bytes[h.field] ?? 0;
    regs[h.reg] = (regs[h.reg] ?? 0) | (h.high ? value << 8 : value);
  }
  regs[12] = alarms.balancingCells.reduce(
    (mask, cell) => (cell >= 1 && cell <= CELL_SLOTS ? mask | (1 << (cell - 1)) : mask),
    0,
  );
  return regs;
}
