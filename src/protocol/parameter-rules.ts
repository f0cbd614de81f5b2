import type { FieldDef } from './codec';
import { PARAMETER_GROUPS } from './parameters';
import { toSi } from './units';

/** A parameter set in SI units: group → field → value (`enabled` is boolean). */
export type ParameterSet = Record<string, Record<string, number | boolean>>;

export interface ParameterChange {
  /** `group.field`, e.g. `cellOverVoltage.protect`. */
  readonly field: string;
  readonly from: number | boolean | null;
  readonly to: number | boolean;
}

export interface ParameterPlan {
  readonly changes: readonly ParameterChange[];
  /** Groups to write, each whole, in table order. */
  readonly groups: readonly string[];
  readonly warnings: readonly string[];
}

export interface PlanContext {
  /** Cells in series (16 for a 48 V pack). */
  readonly cellCount: number;
  /** Charge / discharge current the pack is rated for (A). */
  readonly ratedCurrent: number;
}

/** A desired parameter set that must not be written; `problems` lists every reason, `message` the first. */
export class ParameterError extends Error {
  override readonly name = 'ParameterError';
  constructor(readonly problems: readonly string[]) {
    super(problems[0] ?? 'invalid parameters');
  }
}

/**
 * Ranges PbmsTools offers (docs/protocol.md#parameters), in SI units. Steps come from the wire encoding, so a
 * value the pack cannot store exactly is refused rather than silently rounded.
 */
const RANGE: Readonly<Record<string, readonly [number, number]>> = {
  'cellOverVoltage.*': [2.5, 4.5],
  'cellUnderVoltage.*': [2, 3.5],
  'packOverVoltage.*': [20, 65],
  'packUnderVoltage.*': [15, 50],
  'chargeOverCurrent.*': [1, 220],
  'dischargeOverCurrent1.*': [1, 220],
  '*.delay': [1, 20],
  'cellHighTemperature.*': [20, 100],
  'cellLowTemperature.*': [-35, 30],
  'mosHighTemperature.*': [30, 120],
  'ambientTemperature.low*': [-35, 30],
  'ambientTemperature.high*': [20, 100],
  'overCurrent2.dischargeProtect': [5, 300],
  'overCurrent2.chargeProtect': [5, 300],
  'overCurrent2.dischargeDelay': [0.025, 6.375],
  'overCurrent2.chargeDelay': [0.025, 6.375],
  'shortCircuit.delay': [0.0001, 0.0005],
  'sleep.cellVoltage': [2, 4],
  'sleep.delay': [60, 7200],
  'fullCharge.fullChargeVoltage': [20, 65],
  'fullCharge.fullChargeCurrent': [0.5, 5],
  'fullCharge.lowSocAlarm': [0, 100],
  'balancing.startVoltage': [3.3, 4.5],
  'balancing.deltaVoltage': [0.02, 0.5],
  'limiterCurrent.current': [1, 220],
};

const UNIT: Readonly<Record<string, string>> = {
  cellOverVoltage: 'V',
  cellUnderVoltage: 'V',
  packOverVoltage: 'V',
  packUnderVoltage: 'V',
  chargeOverCurrent: 'A',
  dischargeOverCurrent1: 'A',
  cellHighTemperature: '°C',
  cellLowTemperature: '°C',
  mosHighTemperature: '°C',
  ambientTemperature: '°C',
};

function rangeOf(group: string, field: string): readonly [number, number] | undefined {
  // The most specific pattern wins: exact, then the field's delay rule, then the group's.
  return (
    RANGE[`${group}.${field}`] ??
    (field === 'delay' && group !== 'shortCircuit' ? RANGE['*.delay'] : undefined) ??
    (field.startsWith('low')
      ? RANGE[`${group}.low*`]
      : field.startsWith('high')
        ? RANGE[`${group}.high*`]
        : undefined) ??
    RANGE[`${group}.*`]
  );
}

function unitOf(group: string, field: string): string {
  if (field.toLowerCase().includes('delay')) return 's';
  if (group === 'fullCharge') return field === 'lowSocAlarm' ? '%' : field === 'fullChargeCurrent' ? 'A' : 'V';
  return UNIT[group] ?? (field.includes('Voltage') ? 'V' : field === 'current' || field.endsWith('Protect') ? 'A' : '');
}

/** Every writable field, with its wire step in SI. */
export const PARAMETER_FIELDS: ReadonlyMap<
  string,
  { readonly group: string; readonly def: FieldDef; readonly step: number | null }
> = new Map(
  PARAMETER_GROUPS.flatMap(({ group, fields }) =>
    fields.map((def): [string, { group: string; def: FieldDef; step: number | null }] => [
      `${group}.${def.name}`,
      { group, def, step: def.bool ? null : def.q ? toSi(def.q, 1) - toSi(def.q, 0) : 1 },
    ]),
  ),
);

const describe = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Checks type, range and wire step of one value; a reason when it cannot be written. */
function fieldProblem(key: string, value: unknown): string | null {
  const meta = PARAMETER_FIELDS.get(key);
  if (!meta) return `unknown parameter ${key}`;
  if (meta.def.bool) return typeof value === 'boolean' ? null : `${key} must be true or false, not ${describe(value)}`;
  if (typeof value !== 'number') return `${key} must be a number, not ${describe(value)}`;
  if (!Number.isFinite(value)) return `${key} must be a finite number, not ${String(value)}`;
  const [group = '', field = ''] = key.split('.');
  const unit = unitOf(group, field);
  const range = rangeOf(group, field);
  if (range && (value < range[0] - 1e-12 || value > range[1] + 1e-12))
    return `${key} = ${String(value)} ${unit} is outside ${String(range[0])}…${String(range[1])} ${unit}`.replace(
      / +/g,
      ' ',
    );
  const step = meta.step;
  if (step !== null && !near(Math.round(value / step) * step, value))
    return `${key} = ${String(value)} is not a multiple of ${String(step)} ${unit}`.replace(/ +$/, '');
  return null;
}

const get = (set: ParameterSet, key: string): number | undefined => {
  const [group = '', field = ''] = key.split('.');
  const v = set[group]?.[field];
  return typeof v === 'number' ? v : undefined;
};

interface Rule {
  readonly fields: readonly string[];
  /** Needs the pack's cell count or rating: only checked once the pack has been read. */
  readonly usesContext?: true;
  readonly check: (v: (key: string) => number | undefined, ctx: PlanContext) => string | null;
}

const below = (a: string, b: string): Rule => ({
  fields: [a, b],
  check: (v) => {
    const x = v(a);
    const y = v(b);
    return x !== undefined && y !== undefined && !(x < y)
      ? `${a} (${String(x)}) must be below ${b} (${String(y)})`
      : null;
  },
});

/** Cross-field rules: thresholds in the right order, pack consistent with cells, currents within the rating. */
const RULES: readonly Rule[] = [
  ...['cellOverVoltage', 'packOverVoltage'].flatMap((g) => [
    below(`${g}.alarm`, `${g}.protect`),
    below(`${g}.release`, `${g}.protect`),
  ]),
  ...['cellUnderVoltage', 'packUnderVoltage'].flatMap((g) => [
    below(`${g}.protect`, `${g}.alarm`),
    below(`${g}.protect`, `${g}.release`),
  ]),
  ...['charge', 'discharge'].flatMap((d) => [
    below(`cellHighTemperature.${d}Alarm`, `cellHighTemperature.${d}Protect`),
    below(`cellHighTemperature.${d}Release`, `cellHighTemperature.${d}Protect`),
    below(`cellLowTemperature.${d}Protect`, `cellLowTemperature.${d}Alarm`),
    below(`cellLowTemperature.${d}Protect`, `cellLowTemperature.${d}Release`),
    below(`cellLowTemperature.${d}Alarm`, `cellHighTemperature.${d}Alarm`),
  ]),
  below('mosHighTemperature.alarm', 'mosHighTemperature.protect'),
  below('mosHighTemperature.release', 'mosHighTemperature.protect'),
  below('ambientTemperature.highAlarm', 'ambientTemperature.highProtect'),
  below('ambientTemperature.highRelease', 'ambientTemperature.highProtect'),
  below('ambientTemperature.lowProtect', 'ambientTemperature.lowAlarm'),
  below('ambientTemperature.lowProtect', 'ambientTemperature.lowRelease'),
  below('ambientTemperature.lowAlarm', 'ambientTemperature.highAlarm'),
  below('cellUnderVoltage.protect', 'cellOverVoltage.protect'),
  below('chargeOverCurrent.alarm', 'chargeOverCurrent.protect'),
  below('dischargeOverCurrent1.alarm', 'dischargeOverCurrent1.protect'),
  below('dischargeOverCurrent1.protect', 'overCurrent2.dischargeProtect'),
  below('chargeOverCurrent.protect', 'overCurrent2.chargeProtect'),
  {
    fields: ['packOverVoltage.protect', 'cellOverVoltage.protect'],
    usesContext: true,
    check: (v, ctx) => {
      const pack = v('packOverVoltage.protect');
      const cell = v('cellOverVoltage.protect');
      return pack !== undefined && cell !== undefined && pack > cell * ctx.cellCount + 0.1
        ? `packOverVoltage.protect (${String(pack)} V) must not exceed ${String(ctx.cellCount)} × cellOverVoltage.protect (${(cell * ctx.cellCount).toFixed(2)} V)`
        : null;
    },
  },
  {
    fields: ['packUnderVoltage.protect', 'cellUnderVoltage.protect'],
    usesContext: true,
    check: (v, ctx) => {
      const pack = v('packUnderVoltage.protect');
      const cell = v('cellUnderVoltage.protect');
      return pack !== undefined && cell !== undefined && pack < cell * ctx.cellCount - 0.1
        ? `packUnderVoltage.protect (${String(pack)} V) must not be below ${String(ctx.cellCount)} × cellUnderVoltage.protect (${(cell * ctx.cellCount).toFixed(2)} V)`
        : null;
    },
  },
  ...['chargeOverCurrent.protect', 'dischargeOverCurrent1.protect'].map((key): Rule => ({
    fields: [key],
    usesContext: true,
    check: (v, ctx) => {
      const x = v(key);
      return x !== undefined && x > ctx.ratedCurrent
        ? `${key} (${String(x)} A) exceeds the pack rating of ${String(ctx.ratedCurrent)} A`
        : null;
    },
  })),
];

/** Flattens `{ group: { field: value } }`, refusing anything that is not that shape. */
function flatten(desired: unknown): { entries: [string, unknown][]; problems: string[] } {
  if (typeof desired !== 'object' || desired === null || Array.isArray(desired))
    return { entries: [], problems: ['parameters must be an object like { cellOverVoltage: { protect: 3.65 } }'] };
  const entries: [string, unknown][] = [];
  const problems: string[] = [];
  for (const [group, fields] of Object.entries(desired as Record<string, unknown>)) {
    if (!PARAMETER_GROUPS.some((g) => g.group === group)) {
      problems.push(`unknown parameter group ${group}`);
      continue;
    }
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
      problems.push(`${group} must be an object of fields`);
      continue;
    }
    for (const [field, value] of Object.entries(fields as Record<string, unknown>))
      entries.push([`${group}.${field}`, value]);
  }
  if (!entries.length && !problems.length) problems.push('no parameters given');
  return { entries, problems };
}

/**
 * What can be checked without the pack: shape, types, ranges, wire steps, and the order of
 * thresholds given together. Lets a bad request fail before a single frame is sent.
 */
export function checkParameters(desired: unknown): [string, number | boolean][] {
  const { entries, problems } = flatten(desired);
  for (const [key, value] of entries) {
    const problem = fieldProblem(key, value);
    if (problem) problems.push(problem);
  }
  if (problems.length) throw new ParameterError(problems);
  const given: ParameterSet = {};
  for (const [key, value] of entries as [string, number | boolean][]) {
    const [group = '', field = ''] = key.split('.');
    (given[group] ??= {})[field] = value;
  }
  const unused: PlanContext = { cellCount: 0, ratedCurrent: 0 };
  const ruleProblems = RULES.filter((r) => !r.usesContext && r.fields.every((f) => get(given, f) !== undefined))
    .map((r) => r.check((k) => get(given, k), unused))
    .filter((p): p is string => p !== null);
  if (ruleProblems.length) throw new ParameterError(ruleProblems);
  return entries as [string, number | boolean][];
}

/**
 * The changes that would turn `current` into `desired`, validated field by field and across
 * fields (rules touching a changed field are checked against the resulting set). Throws a
 * ParameterError naming every problem; nothing is planned unless everything is valid.
 */
export function planParameters(current: ParameterSet, desired: unknown, ctx: PlanContext): ParameterPlan {
  const entries = checkParameters(desired);
  if (!(Number.isInteger(ctx.cellCount) && ctx.cellCount > 0) || !(ctx.ratedCurrent > 0))
    throw new ParameterError(['cell count and pack rating must be known before writing']);

  const changes: ParameterChange[] = [];
  const result: ParameterSet = Object.fromEntries(Object.entries(current).map(([g, f]) => [g, { ...f }]));
  for (const [key, value] of entries) {
    const [group = '', field = ''] = key.split('.');
    const from = current[group]?.[field];
    if (from === undefined && !current[group]) throw new ParameterError([`${group} was not read from the pack`]);
    if (from === value || (typeof from === 'number' && typeof value === 'number' && near(from, value))) continue;
    changes.push({ field: key, from: from ?? null, to: value });
    (result[group] ??= {})[field] = value;
  }
  const changed = new Set(changes.map((c) => c.field));
  const ruleProblems = RULES.filter((r) => r.fields.some((f) => changed.has(f)))
    .map((r) => r.check((k) => get(result, k), ctx))
    .filter((p): p is string => p !== null);
  if (ruleProblems.length) throw new ParameterError(ruleProblems);

  const warnings: string[] = [];
  for (const c of changes) {
    if (c.field.endsWith('.enabled') && c.to === false)
      warnings.push(`${c.field.split('.')[0] ?? ''} protection will be disabled`);
    if (c.field === 'cellOverVoltage.protect' && typeof c.to === 'number' && c.to > 3.65)
      warnings.push(`cellOverVoltage.protect ${String(c.to)} V is above the 3.65 V LiFePO4 cells are made for`);
  }
  const groups = PARAMETER_GROUPS.map((g) => g.group).filter((g) => changes.some((c) => c.field.startsWith(`${g}.`)));
  return { changes, groups, warnings };
}
