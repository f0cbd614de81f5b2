import { ByteWriter } from './bytes';
import { readBlocks, writeBlocks } from './blocks';
import type { Dialect } from './dialect';
import { FrameError } from './errors';
import { compileLayout, readLayout, writeLayout, type Layout, type RawRecord, type Step } from './layout';

export type AlarmGroup = 'alarms' | 'protections' | 'faults';

/** One pack's 0x44 state; codes are the battery's HMI codes (docs/codes.md), sorted. */
export interface PackAlarms {
  readonly pack: number;
  readonly balancingCells: readonly number[];
  readonly alarms: readonly string[];
  readonly protections: readonly string[];
  readonly faults: readonly string[];
  readonly chargeMos: boolean | null;
  readonly dischargeMos: boolean | null;
  /** What the pack says it is doing and how it is set; the decoders always fill it. */
  readonly state?: PackState;
}

/** What a pack reports doing: Seplos, EG4 and Pylontech say it; PACE does not (null). */
export type PackMode = 'charging' | 'discharging' | 'standby' | 'float' | 'shutdown';

/** Switch and state bits the vendor tools show; null where the dialect has no such bit. */
export interface PackState {
  readonly mode: PackMode | null;
  /** The charge current limiter is limiting now. */
  readonly limiterActive: boolean | null;
  /** The charge current limiter function is switched on. */
  readonly limiterEnabled: boolean | null;
  /** The limiter's gear (PACE: "low" limits to about 10 A, "high" to about 25 A). */
  readonly limiterGear: 'low' | 'high' | null;
  readonly heater: boolean | null;
  /** A charger is connected (PACE "AC in"). */
  readonly chargerConnected: boolean | null;
  /** The buzzer sounds on alarms. */
  readonly buzzer: boolean | null;
  /** The LEDs show alarms. */
  readonly ledAlarm: boolean | null;
}

export interface AlarmsData {
  readonly packs: readonly PackAlarms[];
}

/**
 * How a code is read from the raw block: a bit of a status byte, a per-value state byte equal to
 * a value (Pylontech), or any bit of a byte set (Pylontech per-cell error bits).
 */
export type FlagRule =
  | { readonly field: string; readonly bit: number; readonly group: AlarmGroup; readonly code: string }
  | { readonly field: string; readonly equals: number; readonly group: AlarmGroup; readonly code: string }
  | { readonly field: string; readonly anyBit: true; readonly group: AlarmGroup; readonly code: string };

interface BitRef {
  readonly field: string;
  readonly bit: number;
}

/** A switch bit; `inverted` where the pack sets the bit when the function is off. */
interface SwitchBit extends BitRef {
  readonly inverted?: boolean;
}

/** Where a dialect keeps the `PackState` bits: a table row per dialect. */
interface StateLayout {
  /** The first mode whose bit is set; `otherwise` when none is. */
  readonly modes?: readonly (BitRef & { readonly mode: PackMode })[];
  readonly otherwise?: PackMode;
  readonly limiterActive?: SwitchBit;
  readonly limiterEnabled?: SwitchBit;
  /** Set when the gear is low. */
  readonly limiterGearLow?: BitRef;
  readonly heater?: SwitchBit;
  readonly chargerConnected?: SwitchBit;
  readonly buzzer?: SwitchBit;
  readonly ledAlarm?: SwitchBit;
}

type SwitchName = 'limiterActive' | 'limiterEnabled' | 'heater' | 'chargerConnected' | 'buzzer' | 'ledAlarm';
const SWITCHES: readonly SwitchName[] = [
  'limiterActive',
  'limiterEnabled',
  'heater',
  'chargerConnected',
  'buzzer',
  'ledAlarm',
];

interface AlarmLayout {
  readonly block: Layout;
  readonly rules: readonly FlagRule[];
  readonly chargeMos?: BitRef;
  readonly dischargeMos?: BitRef;
  /** Balance bitmaps in cell order: each field's bit 0 is the next cell (spec order, docs/pitfalls.md#p-15). */
  readonly balance: readonly { readonly field: string; readonly bits: number }[];
  /** Constant fields the encoder writes (custom-number bytes, reserved padding). */
  readonly constants?: RawRecord;
  /** Per-value alarm bytes besides the cell and temperature lists (00 normal, 01 low, 02 high, …). */
  readonly valueFields: readonly string[];
  readonly state: StateLayout;
}

/** Bits b0..b7 of one byte, `null` where the bit has no canonical code. */
function bits(field: string, group: AlarmGroup, codes: readonly (string | null)[]): FlagRule[] {
  return codes.flatMap((code, bit) => (code === null ? [] : [{ field, bit, group, code }]));
}

const COUNTS_AND_VALUES: readonly Step[] = [
  { name: 'cellCount', type: 'u8' },
  { name: 'cellAlarms', type: 'u8', countFrom: 'cellCount' },
  { name: 'tempCount', type: 'u8' },
  { name: 'tempAlarms', type: 'u8', countFrom: 'tempCount' },
];

/** PACE bit maps (docs/protocol.md#status-bytes) onto the codes of docs/codes.md; the history record (0xA1) reuses them. */
export const PACE_STATUS_RULES: readonly FlagRule[] = [
  ...bits('warn1', 'alarms', ['OV', 'UV', 'TOV', 'TUV', 'COC', 'DOC', null, null]),
  ...bits('warn2', 'alarms', ['COT', 'DOT', 'CUT', 'DUT', 'EOT', 'EUT', 'MOSOT', 'USOC']),
  ...bits('protect1', 'protections', ['OVP', 'UVP', 'TOVP', 'TUVP', 'COCP', 'DOCP', 'CP', 'CHVP']),
  ...bits('protect2', 'protections', ['COTP', 'DOTP', 'CUTP', 'DUTP', 'MOSOT', 'EOT', 'EUT', 'FULLY']),
  ...bits('fault', 'faults', ['CHGMOS', 'DSGMOS', 'NTC', 'COMM', 'CELLS', 'SAMPLE', 'LIMITER', 'HEATER']),
];

export const PACE_CHARGE_MOS: BitRef = { field: 'instruction', bit: 1 };
export const PACE_DISCHARGE_MOS: BitRef = { field: 'instruction', bit: 2 };

/**
 * PACE instruction and control bytes (docs/protocol.md#status-bytes). The LED-alarm and limiter bits are "1 =
 * disabled" in the PACE specifications; one open-source reading of a PbmsTools capture says the
 * opposite (docs/pitfalls.md#p-17): the specification's polarity is used, and bms-control shows what the
 * pack reports after every switch.
 */
const PACE_STATE: StateLayout = {
  limiterActive: { field: 'instruction', bit: 0 },
  chargerConnected: { field: 'instruction', bit: 5 },
  heater: { field: 'instruction', bit: 7 },
  buzzer: { field: 'control', bit: 0 },
  limiterGearLow: { field: 'control', bit: 3 },
  limiterEnabled: { field: 'control', bit: 4, inverted: true },
  ledAlarm: { field: 'control', bit: 5, inverted: true },
};

const SEPLOS_EVENT_RULES: readonly FlagRule[] = [
  ...bits('event1', 'faults', ['SAMPLE', 'NTC', 'SAMPLE', null, 'CELLS', 'CHGMOS', 'DSGMOS', 'LIMITER']),
  ...bits('voltageEvent', 'alarms', ['OV', null, 'UV', null, 'TOV', null, 'TUV', null]),
  ...bits('voltageEvent', 'protections', [null, 'OVP', null, 'UVP', null, 'TOVP', null, 'TUVP']),
  ...bits('temperatureEvent', 'alarms', ['COT', null, 'CUT', null, 'DOT', null, 'DUT', null]),
  ...bits('temperatureEvent', 'protections', [null, 'COTP', null, 'CUTP', null, 'DOTP', null, 'DUTP']),
];

const LAYOUTS: Readonly<Record<Dialect, AlarmLayout>> = {
  pace: {
    block: compileLayout([
      ...COUNTS_AND_VALUES,
      { name: 'chargeCurrentAlarm', type: 'u8' },
      { name: 'voltageAlarm', type: 'u8' },
      { name: 'dischargeCurrentAlarm', type: 'u8' },
      { name: 'protect1', type: 'u8' },
      { name: 'protect2', type: 'u8' },
      { name: 'instruction', type: 'u8' },
      { name: 'control', type: 'u8' },
      { name: 'fault', type: 'u8' },
      { name: 'balance1', type: 'u8' },
      { name: 'balance2', type: 'u8' },
      { name: 'warn1', type: 'u8' },
      { name: 'warn2', type: 'u8' },
      {
        optional: [
          { name: 'fault8', type: 'u8' },
          { name: 'indication9', type: 'u8' },
          { name: 'activeBalance1', type: 'u8' },
          { name: 'activeBalance2', type: 'u8' },
          { name: 'fault10', type: 'u8' },
        ],
      },
      { rest: 'unknownTail' },
    ]),
    rules: PACE_STATUS_RULES,
    valueFields: ['chargeCurrentAlarm', 'voltageAlarm', 'dischargeCurrentAlarm'],
    state: PACE_STATE,
    chargeMos: PACE_CHARGE_MOS,
    dischargeMos: PACE_DISCHARGE_MOS,
    balance: [
      { field: 'balance1', bits: 8 },
      { field: 'balance2', bits: 8 },
    ],
  },
  pylontech: {
    block: compileLayout([
      ...COUNTS_AND_VALUES,
      { name: 'chargeCurrentAlarm', type: 'u8' },
      { name: 'voltageAlarm', type: 'u8' },
      { name: 'dischargeCurrentAlarm', type: 'u8' },
      { name: 'status1', type: 'u8' },
      { name: 'status2', type: 'u8' },
      { name: 'status3', type: 'u8' },
      { name: 'status4', type: 'u8' },
      { name: 'status5', type: 'u8' },
      // A US3000C sends one more byte (meaning undocumented); more than that does not fit.
      { optional: [{ name: 'status6', type: 'u8' }] },
      { rest: 'unknownTail' },
    ]),
    rules: [
      { field: 'cellAlarms', equals: 0x01, group: 'alarms', code: 'UV' },
      { field: 'cellAlarms', equals: 0x02, group: 'alarms', code: 'OV' },
      { field: 'voltageAlarm', equals: 0x01, group: 'alarms', code: 'TUV' },
      { field: 'voltageAlarm', equals: 0x02, group: 'alarms', code: 'TOV' },
      { field: 'chargeCurrentAlarm', equals: 0x02, group: 'alarms', code: 'COC' },
      { field: 'dischargeCurrentAlarm', equals: 0x02, group: 'alarms', code: 'DOC' },
      ...bits('status1', 'protections', ['TOVP', 'UVP', 'COCP', null, 'DOCP', 'DOTP', 'COTP', 'TUVP']),
      { field: 'status3', bit: 3, group: 'protections', code: 'FULLY' },
      { field: 'status4', anyBit: true, group: 'faults', code: 'CELLS' },
      { field: 'status5', anyBit: true, group: 'faults', code: 'CELLS' },
    ],
    valueFields: ['chargeCurrentAlarm', 'voltageAlarm', 'dischargeCurrentAlarm'],
    // Status3 b7 / b6: effective charge / discharge current.
    state: {
      modes: [
        { field: 'status3', bit: 7, mode: 'charging' },
        { field: 'status3', bit: 6, mode: 'discharging' },
      ],
      otherwise: 'standby',
      heater: { field: 'status3', bit: 5 },
      buzzer: { field: 'status3', bit: 0 },
    },
    chargeMos: { field: 'status2', bit: 1 },
    dischargeMos: { field: 'status2', bit: 2 },
    balance: [],
  },
  seplos: {
    block: compileLayout([
      ...COUNTS_AND_VALUES,
      { name: 'currentAlarm', type: 'u8' },
      { name: 'voltageAlarm', type: 'u8' },
      { name: 'ud', type: 'u8' },
      { name: 'event1', type: 'u8' },
      { name: 'voltageEvent', type: 'u8' },
      { name: 'temperatureEvent', type: 'u8' },
      { name: 'event4', type: 'u8' },
      { name: 'currentEvent', type: 'u8' },
      { name: 'event6', type: 'u8' },
      { name: 'onOff', type: 'u8' },
      { name: 'equilibrium1', type: 'u8' },
      { name: 'equilibrium2', type: 'u8' },
      { name: 'system', type: 'u8' },
      { name: 'disconnection1', type: 'u8' },
      { name: 'disconnection2', type: 'u8' },
      {
        optional: [
          { name: 'event7', type: 'u8' },
          { name: 'event8', type: 'u8' },
        ],
      },
      { rest: 'reserved' },
    ]),
    rules: [
      ...SEPLOS_EVENT_RULES,
      ...bits('event4', 'alarms', ['EOT', null, 'EUT', null, 'MOSOT', null, null, null]),
      ...bits('event4', 'protections', [null, 'EOT', null, 'EUT', null, 'MOSOT', null, null]),
      ...bits('currentEvent', 'alarms', ['COC', null, 'DOC', null, null, null, null, null]),
      ...bits('currentEvent', 'protections', [null, 'COCP', null, 'DOCP', 'DOCP', 'CP', 'DOCP', 'CP']),
      { field: 'event6', bit: 0, group: 'protections', code: 'CHVP' },
      { field: 'event6', bit: 2, group: 'alarms', code: 'USOC' },
    ],
    valueFields: ['currentAlarm', 'voltageAlarm'],
    state: {
      modes: [
        { field: 'system', bit: 1, mode: 'charging' },
        { field: 'system', bit: 0, mode: 'discharging' },
        { field: 'system', bit: 2, mode: 'float' },
        { field: 'system', bit: 5, mode: 'shutdown' },
        { field: 'system', bit: 4, mode: 'standby' },
      ],
      limiterActive: { field: 'onOff', bit: 2 },
      heater: { field: 'onOff', bit: 3 },
    },
    chargeMos: { field: 'onOff', bit: 1 },
    dischargeMos: { field: 'onOff', bit: 0 },
    balance: [
      { field: 'equilibrium1', bits: 8 },
      { field: 'equilibrium2', bits: 8 },
    ],
    constants: { ud: 0x14, event7: 0, event8: 0, reserved: new Uint8Array(6) },
  },
  eg4: {
    block: compileLayout([
      { name: 'cellCount', type: 'u8' },
      { name: 'cellAlarms', type: 'u8', countFrom: 'cellCount' },
      { name: 'tempCount', type: 'u8' },
      { name: 'tempAlarms', type: 'u8', countFrom: 'tempCount', extra: 2 },
      { name: 'currentAlarm', type: 'u8' },
      { name: 'voltageAlarm', type: 'u8' },
      { name: 'ud', type: 'u8' },
      { name: 'balanceEvent', type: 'u8' },
      { name: 'voltageEvent', type: 'u8' },
      { name: 'temperatureEvent', type: 'u16' },
      { name: 'currentEvent', type: 'u8' },
      { name: 'socAlarm', type: 'u8' },
      { name: 'fet', type: 'u8' },
      { name: 'system', type: 'u8' },
      { name: 'balance', type: 'u32' },
      { rest: 'reserved' },
    ]),
    rules: [
      { field: 'balanceEvent', bit: 5, group: 'faults', code: 'CHGMOS' },
      { field: 'balanceEvent', bit: 6, group: 'faults', code: 'DSGMOS' },
      ...bits('voltageEvent', 'alarms', ['OV', null, 'UV', null, 'TOV', null, 'TUV', null]),
      ...bits('voltageEvent', 'protections', [null, 'OVP', null, 'UVP', null, 'TOVP', null, 'TUVP']),
      ...bits('temperatureEvent', 'alarms', ['COT', null, 'CUT', null, 'DOT', null, 'DUT', null, 'EOT', null, 'EUT']),
      ...bits('temperatureEvent', 'protections', [
        null,
        'COTP',
        null,
        'CUTP',
        null,
        'DOTP',
        null,
        'DUTP',
        null,
        'EOT',
        null,
        'EUT',
        'MOSOT',
      ]),
      ...bits('currentEvent', 'alarms', ['COC', null, 'DOC', null, null, null, null, null]),
      ...bits('currentEvent', 'protections', [null, 'COCP', null, 'DOCP', 'DOCP', 'CP', 'DOCP', 'CP']),
      { field: 'socAlarm', bit: 0, group: 'alarms', code: 'USOC' },
    ],
    valueFields: ['currentAlarm', 'voltageAlarm'],
    state: {
      modes: [
        { field: 'system', bit: 1, mode: 'charging' },
        { field: 'system', bit: 0, mode: 'discharging' },
        { field: 'system', bit: 3, mode: 'standby' },
      ],
      limiterActive: { field: 'fet', bit: 2 },
      heater: { field: 'fet', bit: 3 },
    },
    chargeMos: { field: 'fet', bit: 1 },
    dischargeMos: { field: 'fet', bit: 0 },
    balance: [{ field: 'balance', bits: 32 }],
    constants: { ud: 0x09, reserved: new Uint8Array(1) },
  },
};

/** The raw instruction and control bytes of a PACE 0x44 reply (switch read-back; not in the canonical shape). */
export function decodeStatusBytes(
  info: Uint8Array,
  dialect: Dialect,
  broadcast: boolean,
): { pack: number; instruction: number | null; control: number | null }[] {
  const layout = LAYOUTS[dialect];
  const blocks = readBlocks(info, broadcast, 'equal', (reader) => readLayout(reader, layout.block));
  const byte = (value: unknown): number | null => (typeof value === 'number' ? value : null);
  return blocks.map(({ pack, value }) => ({
    pack,
    instruction: byte(value.instruction),
    control: byte(value.control),
  }));
}

export function decodeAlarms(info: Uint8Array, dialect: Dialect, broadcast: boolean): AlarmsData {
  const layout = LAYOUTS[dialect];
  const blocks = readBlocks(info, broadcast, 'equal', (reader) => readLayout(reader, layout.block));
  return { packs: blocks.map(({ pack, value }) => ({ pack, ...rawToAlarms(checkFit(pack, value, layout), layout) })) };
}

/** 00 normal, 01 below the lower limit, 02 above the upper one, 80–EF user defined, F0 other fault. */
const isAlarmValue = (v: number): boolean => v <= 0x02 || (v >= 0x80 && v <= 0xf0);

/**
 * A status block fits only when it ends where the known fields end and its per-value bytes are
 * alarm values: an analog reply read as a status reply decodes otherwise, with states the pack never had.
 */
function checkFit(pack: number, raw: RawRecord, layout: AlarmLayout): RawRecord {
  const tail = raw.unknownTail;
  if (tail instanceof Uint8Array && tail.length > 0) {
    throw new FrameError('layout', `pack ${pack}: ${tail.length} byte(s) after the last known status byte`);
  }
  for (const field of ['cellAlarms', 'tempAlarms', ...layout.valueFields]) {
    const value = raw[field];
    const values = Array.isArray(value) ? (value as readonly number[]) : typeof value === 'number' ? [value] : [];
    const bad = values.find((v) => !isAlarmValue(v));
    if (bad !== undefined)
      throw new FrameError(
        'layout',
        `pack ${pack}: ${bad.toString(16).toUpperCase().padStart(2, '0')} is not an alarm state (${field})`,
      );
  }
  return raw;
}

export function rawToAlarms(
  raw: RawRecord,
  layout: Pick<AlarmLayout, 'rules' | 'chargeMos' | 'dischargeMos' | 'balance'> & { readonly state?: StateLayout },
): Omit<PackAlarms, 'pack'> {
  const groups: Record<AlarmGroup, Set<string>> = { alarms: new Set(), protections: new Set(), faults: new Set() };
  for (const rule of layout.rules) {
    if (ruleActive(rule, raw)) groups[rule.group].add(rule.code);
  }
  const balancingCells: number[] = [];
  let cell = 1;
  for (const { field, bits: width } of layout.balance) {
    const value = fieldValue(raw, field);
    for (let bit = 0; bit < width; bit++, cell++) if (testBit(value, bit)) balancingCells.push(cell);
  }
  return {
    balancingCells,
    alarms: [...groups.alarms].sort(),
    protections: [...groups.protections].sort(),
    faults: [...groups.faults].sort(),
    chargeMos: layout.chargeMos ? testBit(fieldValue(raw, layout.chargeMos.field), layout.chargeMos.bit) : null,
    dischargeMos: layout.dischargeMos
      ? testBit(fieldValue(raw, layout.dischargeMos.field), layout.dischargeMos.bit)
      : null,
    ...(layout.state ? { state: rawToState(raw, layout.state) } : {}),
  };
}

function rawToState(raw: RawRecord, layout: StateLayout): PackState {
  const read = (ref: SwitchBit | undefined): boolean | null =>
    ref ? testBit(fieldValue(raw, ref.field), ref.bit) !== (ref.inverted === true) : null;
  const mode = layout.modes
    ? (layout.modes.find((m) => testBit(fieldValue(raw, m.field), m.bit))?.mode ?? layout.otherwise ?? null)
    : null;
  const gear = layout.limiterGearLow
    ? testBit(fieldValue(raw, layout.limiterGearLow.field), layout.limiterGearLow.bit)
      ? 'low'
      : 'high'
    : null;
  return {
    mode,
    limiterActive: read(layout.limiterActive),
    limiterEnabled: read(layout.limiterEnabled),
    limiterGear: gear,
    heater: read(layout.heater),
    chargerConnected: read(layout.chargerConnected),
    buzzer: read(layout.buzzer),
    ledAlarm: read(layout.ledAlarm),
  };
}

/** `state` as `dialect` can carry it: what it has no bit for is null (the simulator's ground truth). */
export function reportableState(dialect: Dialect, state: PackState): PackState {
  const raw: RawRecord = {};
  const layout = LAYOUTS[dialect].state;
  stateToRaw(state, layout, raw);
  return rawToState(raw, layout);
}

/** The bits of a `PackState` (the simulator's side); what the dialect has no bit for is left out. */
function stateToRaw(state: PackState, layout: StateLayout, raw: RawRecord): void {
  for (const name of SWITCHES) {
    const ref = layout[name];
    const value = state[name];
    if (ref && value !== null && value !== (ref.inverted === true)) setBit(raw, ref.field, ref.bit);
  }
  if (layout.limiterGearLow && state.limiterGear === 'low')
    setBit(raw, layout.limiterGearLow.field, layout.limiterGearLow.bit);
  const mode = layout.modes?.find((m) => m.mode === state.mode);
  if (mode) setBit(raw, mode.field, mode.bit);
}

/** Whether the rule's field (a byte, or one of a list of per-value bytes) shows its state. Runs for every rule of every pack of every reply: no arrays made. */
function ruleActive(rule: FlagRule, raw: RawRecord): boolean {
  const value = raw[rule.field];
  if (typeof value === 'number') return valueShows(rule, value);
  if (!Array.isArray(value)) return false;
  for (const v of value as readonly number[]) if (valueShows(rule, v)) return true;
  return false;
}

function valueShows(rule: FlagRule, value: number): boolean {
  if ('equals' in rule) return value === rule.equals;
  if ('anyBit' in rule) return value !== 0;
  return testBit(value, rule.bit);
}

function fieldValue(raw: RawRecord, field: string): number {
  const value = raw[field];
  return typeof value === 'number' ? value : 0;
}

function testBit(value: number, bit: number): boolean {
  return Math.floor(value / 2 ** bit) % 2 === 1;
}

/** Per-value state bytes: a cell list takes the value at its first normal cell, a scalar once. */
function setValue(raw: RawRecord, field: string, value: number, code: string): void {
  const current = raw[field];
  if (Array.isArray(current)) {
    const values = [...(current as readonly number[])];
    const free = values.indexOf(0);
    if (free < 0) throw new FrameError('range', `no cell left to carry ${code}`);
    values[free] = value;
    raw[field] = values;
  } else if (current === undefined || current === 0) {
    raw[field] = value;
  } else if (current !== value) {
    throw new FrameError('range', `${code} conflicts with another state of ${field}`);
  }
}

function setBit(raw: RawRecord, field: string, bit: number): void {
  const value = fieldValue(raw, field);
  if (!testBit(value, bit)) raw[field] = value + 2 ** bit;
}

export interface AlarmsEncodeOptions {
  readonly cellCount?: number;
  readonly tempCount?: number;
  readonly infoFlag?: number;
  /** Extra raw fields, e.g. the PACE control state byte. */
  readonly raw?: RawRecord;
  /** How many of the layout's optional trailing bytes to send (PACE: 0 = 36-byte blocks, 1 = 37, 5 = 41; default all). */
  readonly optionalFields?: number;
}

export function encodeAlarms(
  data: AlarmsData,
  dialect: Dialect,
  broadcast: boolean,
  options: AlarmsEncodeOptions = {},
): Uint8Array {
  const layout = LAYOUTS[dialect];
  const blocks = data.packs.map((pack) => {
    const writer = new ByteWriter();
    writeLayout(writer, layout.block, alarmsToRaw(pack, layout, options));
    return writer.toBytes();
  });
  return writeBlocks(blocks, {
    broadcast,
    pack: data.packs[0]?.pack ?? 1,
    infoFlag: options.infoFlag ?? 0,
    split: 'equal',
  });
}

/** Raw status fields for a set of codes: the inverse of `rawToAlarms`, first matching rule wins. */
export function alarmsToRaw(
  pack: Omit<PackAlarms, 'pack'>,
  layout: Pick<AlarmLayout, 'block' | 'rules' | 'chargeMos' | 'dischargeMos' | 'balance' | 'constants'> & {
    readonly state?: StateLayout;
  },
  options: AlarmsEncodeOptions = {},
): RawRecord {
  const raw: RawRecord = {};
  zeroFields(layout.block.steps, raw);
  const cellCount = options.cellCount ?? 16;
  // EG4 announces two temperatures fewer than it sends.
  const extra = layout.block.steps.some((s) => 'extra' in s) ? 2 : 0;
  const announcedTemps = options.tempCount ?? (extra ? 4 : 6);
  raw.cellAlarms = new Array<number>(cellCount).fill(0);
  raw.tempAlarms = new Array<number>(announcedTemps + extra).fill(0);
  Object.assign(raw, layout.constants, options.raw);
  if (options.optionalFields !== undefined) {
    for (const step of layout.block.steps) {
      if ('optional' in step)
        step.optional.forEach((inner, i) => {
          if ('name' in inner && i >= (options.optionalFields ?? 0)) raw[inner.name] = undefined;
        });
    }
  }
  const wanted: [AlarmGroup, readonly string[]][] = [
    ['alarms', pack.alarms],
    ['protections', pack.protections],
    ['faults', pack.faults],
  ];
  for (const [group, codes] of wanted) {
    for (const code of codes) {
      const rule = layout.rules.find((r) => r.group === group && r.code === code);
      if (!rule) throw new FrameError('range', `${group} code ${code} cannot be expressed in this dialect`);
      if ('equals' in rule) setValue(raw, rule.field, rule.equals, code);
      else setBit(raw, rule.field, 'anyBit' in rule ? 0 : rule.bit);
    }
  }
  if (pack.chargeMos === true && layout.chargeMos) setBit(raw, layout.chargeMos.field, layout.chargeMos.bit);
  if (pack.dischargeMos === true && layout.dischargeMos)
    setBit(raw, layout.dischargeMos.field, layout.dischargeMos.bit);
  if (pack.state && layout.state) stateToRaw(pack.state, layout.state, raw);
  for (const cell of pack.balancingCells) {
    let first = 1;
    let placed = false;
    for (const slot of layout.balance) {
      if (Number.isInteger(cell) && cell >= first && cell < first + slot.bits) {
        setBit(raw, slot.field, cell - first);
        placed = true;
        break;
      }
      first += slot.bits;
    }
    if (!placed) throw new FrameError('range', `balancing cell ${cell} is out of range`);
  }
  return raw;
}

/** Zero every scalar status field; count fields are left to follow from their arrays. */
function zeroFields(steps: readonly Step[], raw: RawRecord): void {
  const counts = new Set(steps.flatMap((s) => ('countFrom' in s ? [s.countFrom] : [])));
  for (const step of steps) {
    if ('optional' in step) zeroFields(step.optional, raw);
    else if ('type' in step && !('countFrom' in step) && !counts.has(step.name)) raw[step.name] = 0;
  }
}

/** Codes a dialect can report, per group (for tests and for the simulator). */
export function supportedCodes(dialect: Dialect): Record<AlarmGroup, string[]> {
  const out: Record<AlarmGroup, string[]> = { alarms: [], protections: [], faults: [] };
  for (const rule of LAYOUTS[dialect].rules) if (!out[rule.group].includes(rule.code)) out[rule.group].push(rule.code);
  return out;
}

/** Byte after the per-value alarm bytes of a single-pack 0x44 reply (Seplos writes 0x14 there). */
export function alarmsCustomByte(info: Uint8Array): number | undefined {
  const cells = info[2];
  if (cells === undefined) return undefined;
  const temps = info[3 + cells];
  if (temps === undefined) return undefined;
  return info[4 + cells + temps + 2];
}

/** Status bits a pack set that this dialect's table gives no meaning: what a new firmware may say. */
export interface UnknownBits {
  readonly pack: number;
  readonly field: string;
  /** Bit numbers (0 = least significant). */
  readonly bits: readonly number[];
}

/**
 * The bits of a status reply (0x44) that are set but named by no row of the dialect's table —
 * alarm rules, switch and mode bits, MOSFET bits — per pack and field. Fields read as whole values
 * (alarm states per cell, balance bitmaps) have no unknown bits.
 */
export function unknownStatusBits(info: Uint8Array, dialect: Dialect, broadcast: boolean): UnknownBits[] {
  const layout = LAYOUTS[dialect];
  const known = new Map<string, number>();
  const note = (ref: unknown): void => {
    if (typeof ref !== 'object' || ref === null) return;
    const r = ref as Partial<BitRef>;
    if (typeof r.field === 'string' && typeof r.bit === 'number')
      known.set(r.field, (known.get(r.field) ?? 0) | (1 << r.bit));
  };
  for (const rule of layout.rules) note(rule);
  note(layout.chargeMos);
  note(layout.dischargeMos);
  for (const entry of Object.values(layout.state)) {
    if (Array.isArray(entry)) entry.forEach(note);
    else note(entry);
  }
  const blocks = readBlocks(info, broadcast, 'equal', (reader) => readLayout(reader, layout.block));
  const out: UnknownBits[] = [];
  for (const { pack, value } of blocks) {
    for (const [field, mask] of known) {
      const v = value[field];
      if (typeof v !== 'number') continue;
      const unknown = v & ~mask;
      const bits: number[] = [];
      for (let bit = 0; bit < 32; bit++) if (unknown & (1 << bit)) bits.push(bit);
      if (bits.length) out.push({ pack, field, bits });
    }
  }
  return out;
}
