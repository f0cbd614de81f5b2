import type { BankAlarm, PackSummary } from './aggregate';

/**
 * Victron `/Alarms/*` paths fed by the battery's own codes (docs/codes.md#victron-alarm-paths): level 1 from the
 * alarm (warning) group, level 2 from protections and faults.
 */
export const ALARM_MAP: Readonly<
  Record<
    string,
    { readonly warning: readonly string[]; readonly protection: readonly string[]; readonly anyFault?: true }
  >
> = {
  HighCellVoltage: { warning: ['OV'], protection: ['OVP'] },
  LowCellVoltage: { warning: ['UV'], protection: ['UVP'] },
  HighVoltage: { warning: ['TOV'], protection: ['TOVP', 'CHVP'] },
  LowVoltage: { warning: ['TUV'], protection: ['TUVP'] },
  HighChargeCurrent: { warning: ['COC'], protection: ['COCP'] },
  HighDischargeCurrent: { warning: ['DOC'], protection: ['DOCP', 'CP'] },
  HighTemperature: { warning: ['COT', 'DOT'], protection: ['COTP', 'DOTP'] },
  LowTemperature: { warning: ['CUT', 'DUT', 'EUT'], protection: ['CUTP', 'DUTP', 'EUT'] },
  HighChargeTemperature: { warning: ['COT'], protection: ['COTP'] },
  LowChargeTemperature: { warning: ['CUT'], protection: ['CUTP'] },
  HighInternalTemperature: { warning: ['MOSOT', 'EOT'], protection: ['MOSOT', 'EOT'] },
  LowSoc: { warning: ['USOC'], protection: [] },
  InternalFailure: { warning: [], protection: [], anyFault: true },
};

/** Computed alarms, besides the mapped codes. */
export const COMPUTED_ALARMS = ['CellImbalance', 'StateOfHealth', 'BmsCable'] as const;

export const ALARM_PATHS: readonly string[] = [...Object.keys(ALARM_MAP), ...COMPUTED_ALARMS];

export interface AlarmThresholds {
  /** Cell spread within one pack, V: warning / alarm. */
  readonly imbalanceWarning: number;
  readonly imbalanceAlarm: number;
  /** State of health, %: warning below / alarm below. */
  readonly sohWarning: number;
  readonly sohAlarm: number;
}

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  imbalanceWarning: 0.1,
  imbalanceAlarm: 0.2,
  sohWarning: 75,
  sohAlarm: 60,
};

export type CodeSet = Readonly<Record<'alarms' | 'protections' | 'faults', readonly string[]>>;

/** No codes at all: what a healthy bank lists, for the bank and for every pack, every cycle. */
const NO_CODES: CodeSet = Object.freeze({ alarms: [], protections: [], faults: [] });

/** The codes a bank state lists for one pack (null: every counted pack). */
export function codesOf(alarms: readonly BankAlarm[], pack: number | null): CodeSet {
  if (!alarms.length) return NO_CODES;
  const pick = (level: BankAlarm['level']): string[] =>
    alarms.filter((a) => a.level === level && (pack === null || a.packs.includes(pack))).map((a) => a.code);
  return { alarms: pick('warning'), protections: pick('protection'), faults: pick('fault') };
}

const ALARM_SOURCES = Object.entries(ALARM_MAP);

function levelsFor(codes: CodeSet): Record<string, 0 | 1 | 2> {
  const levels: Record<string, 0 | 1 | 2> = {};
  for (const [path, source] of ALARM_SOURCES) {
    const alarm =
      source.protection.some((c) => codes.protections.includes(c)) ||
      (source.anyFault === true && codes.faults.length > 0);
    levels[path] = alarm ? 2 : source.warning.some((c) => codes.alarms.includes(c)) ? 1 : 0;
  }
  return levels;
}

/** Every mapped path at 0: worked out once. */
const ALL_CLEAR: Readonly<Record<string, 0 | 1 | 2>> = Object.freeze(levelsFor(NO_CODES));

/** 0 / 1 / 2 for every mapped path. */
export function mappedAlarmLevels(codes: CodeSet): Readonly<Record<string, 0 | 1 | 2>> {
  return codes === NO_CODES ? ALL_CLEAR : levelsFor(codes);
}

/** The worst cell spread within one counted pack, as a level; null when no counted pack has cells. */
export function imbalanceLevel(packs: readonly PackSummary[], t: AlarmThresholds): 0 | 1 | 2 | null {
  let worst = -Infinity;
  for (const p of packs) {
    const cells = p.analog?.cellVoltages;
    if (p.stale || !cells?.length) continue;
    let low = Infinity;
    let high = -Infinity;
    for (const v of cells) {
      if (v < low) low = v;
      if (v > high) high = v;
    }
    if (high - low > worst) worst = high - low;
  }
  if (worst === -Infinity) return null;
  return worst >= t.imbalanceAlarm ? 2 : worst >= t.imbalanceWarning ? 1 : 0;
}

export function sohLevel(soh: number | null, t: AlarmThresholds): 0 | 1 | 2 | null {
  if (soh === null) return null;
  return soh < t.sohAlarm ? 2 : soh < t.sohWarning ? 1 : 0;
}
