import type { AlarmGroup } from '../protocol';

export type AlarmLevel = 'warning' | 'protection' | 'fault';

export const LEVEL_OF_GROUP: Readonly<Record<AlarmGroup, AlarmLevel>> = {
  alarms: 'warning',
  protections: 'protection',
  faults: 'fault',
};

export const LEVEL_RANK: Readonly<Record<AlarmLevel | 'none', number>> = {
  none: 0,
  warning: 1,
  protection: 2,
  fault: 3,
};

/**
 * A pack that stopped answering: not a code any BMS sends but raised by bms-alarms at the level the
 * user chooses, so it is valid at every level.
 */
export const OFFLINE_CODE = 'OFFLINE';
const OFFLINE_TEXT = 'pack not answering';

/** What the battery's own display codes mean (docs/codes.md); EUT, EOT, MOSOT exist in two groups. */
const TEXTS: Readonly<Record<AlarmLevel, Readonly<Record<string, string>>>> = {
  warning: {
    OV: 'cell over-voltage',
    UV: 'cell under-voltage',
    TOV: 'pack over-voltage',
    TUV: 'pack under-voltage',
    COC: 'charge over-current',
    DOC: 'discharge over-current',
    COT: 'charge over-temperature',
    DOT: 'discharge over-temperature',
    CUT: 'charge under-temperature',
    DUT: 'discharge under-temperature',
    EOT: 'ambient over-temperature',
    EUT: 'ambient under-temperature',
    MOSOT: 'MOSFET over-temperature',
    USOC: 'low SOC',
    [OFFLINE_CODE]: OFFLINE_TEXT,
  },
  protection: {
    OVP: 'cell over-voltage protection',
    UVP: 'cell under-voltage protection',
    TOVP: 'pack over-voltage protection',
    TUVP: 'pack under-voltage protection',
    COCP: 'charge over-current protection',
    DOCP: 'discharge over-current protection',
    CP: 'short-circuit protection',
    CHVP: 'charger voltage too high',
    COTP: 'charge over-temperature protection',
    DOTP: 'discharge over-temperature protection',
    CUTP: 'charge under-temperature protection',
    DUTP: 'discharge under-temperature protection',
    MOSOT: 'MOSFET over-temperature protection',
    EOT: 'ambient over-temperature protection',
    EUT: 'ambient under-temperature protection',
    FULLY: 'fully charged (status)',
    [OFFLINE_CODE]: OFFLINE_TEXT,
  },
  fault: {
    CHGMOS: 'charge MOSFET fault',
    DSGMOS: 'discharge MOSFET fault',
    NTC: 'temperature sensor fault',
    COMM: 'BMS communication fault',
    CELLS: 'cell fault',
    SAMPLE: 'sampling chip fault',
    LIMITER: 'current limiter fault',
    HEATER: 'heater fault',
    [OFFLINE_CODE]: OFFLINE_TEXT,
  },
};

/** Every code of a level this package has a text for. */
export function knownCodes(level: AlarmLevel): string[] {
  return Object.keys(TEXTS[level]);
}

export function codeText(level: AlarmLevel, code: string): string {
  return TEXTS[level][code] ?? code;
}

/** `FULLY` sits among the protections but is a status, never an alarm (docs/pitfalls.md#p-18). */
export function isStatusCode(level: AlarmLevel, code: string): boolean {
  return level === 'protection' && code === 'FULLY';
}
