import type { FieldDef } from './codec';
import { Q } from './units';

/**
 * PACE 0x25 parameter groups (docs/protocol.md#parameters): one row per read/write pair. Every group is
 * written whole, with the same layout it is read with.
 */
export interface ParameterGroup {
  readonly group: string;
  readonly read: number;
  readonly write: number;
  readonly fields: readonly FieldDef[];
}

/** `readCellOverVoltage` / `writeCellOverVoltage`: the command names of a group, both directions. */
export function parameterCommand(group: string, direction: 'read' | 'write'): string {
  return `${direction}${group.charAt(0).toUpperCase()}${group.slice(1)}`;
}

const enabled: FieldDef = { name: 'enabled', type: 'u8', bool: true };
const mV = (name: string): FieldDef => ({ name, type: 'u16', q: Q.mV });
const deciKelvin = (name: string): FieldDef => ({ name, type: 'u16', q: Q.paceDeciKelvin });
/** Over-current thresholds read back signed (DOC1 negative) and are written as positive amperes. */
const signedAmps = (name: string): FieldDef => ({ name, type: 's16', writeType: 'u16', q: Q.amp });
const delay100ms: FieldDef = { name: 'delay', type: 'u8', q: Q.tenthSecond };

const voltageGroup = (group: string, write: number): ParameterGroup => ({
  group,
  write,
  read: write + 1,
  fields: [enabled, mV('alarm'), mV('protect'), mV('release'), delay100ms],
});

const overCurrentGroup = (group: string, write: number): ParameterGroup => ({
  group,
  write,
  read: write + 1,
  fields: [
    enabled,
    signedAmps('alarm'),
    signedAmps('protect'),
    delay100ms,
    { name: 'release', type: 'u16', q: Q.amp, optional: true },
  ],
});

const cellTemperatureGroup = (group: string, write: number): ParameterGroup => ({
  group,
  write,
  read: write + 1,
  fields: [
    enabled,
    deciKelvin('chargeAlarm'),
    deciKelvin('chargeProtect'),
    deciKelvin('chargeRelease'),
    deciKelvin('dischargeAlarm'),
    deciKelvin('dischargeProtect'),
    deciKelvin('dischargeRelease'),
  ],
});

export const PARAMETER_GROUPS: readonly ParameterGroup[] = [
  voltageGroup('cellOverVoltage', 0xd0),
  voltageGroup('cellUnderVoltage', 0xd2),
  voltageGroup('packOverVoltage', 0xd4),
  voltageGroup('packUnderVoltage', 0xd6),
  overCurrentGroup('chargeOverCurrent', 0xd8),
  overCurrentGroup('dischargeOverCurrent1', 0xda),
  cellTemperatureGroup('cellHighTemperature', 0xdc),
  cellTemperatureGroup('cellLowTemperature', 0xde),
  {
    group: 'mosHighTemperature',
    write: 0xe0,
    read: 0xe1,
    fields: [enabled, deciKelvin('alarm'), deciKelvin('protect'), deciKelvin('release')],
  },
  {
    group: 'overCurrent2',
    write: 0xe2,
    read: 0xe3,
    fields: [
      { name: 'dischargeProtect', type: 'u16', q: Q.amp },
      { name: 'dischargeDelay', type: 'u8', q: Q.ms25 },
      { name: 'chargeProtect', type: 'u16', q: Q.amp, optional: true },
      { name: 'chargeDelay', type: 'u8', q: Q.ms25, optional: true },
    ],
  },
  { group: 'shortCircuit', write: 0xe4, read: 0xe5, fields: [{ name: 'delay', type: 'u8', q: Q.us25 }] },
  {
    group: 'ambientTemperature',
    write: 0xe6,
    read: 0xe7,
    fields: [
      enabled,
      deciKelvin('lowAlarm'),
      deciKelvin('lowProtect'),
      deciKelvin('lowRelease'),
      deciKelvin('highAlarm'),
      deciKelvin('highProtect'),
      deciKelvin('highRelease'),
    ],
  },
  { group: 'sleep', write: 0xa8, read: 0xa0, fields: [mV('cellVoltage'), { name: 'delay', type: 'u16', q: Q.minute }] },
  {
    group: 'fullCharge',
    write: 0xae,
    read: 0xaf,
    fields: [
      mV('fullChargeVoltage'),
      { name: 'fullChargeCurrent', type: 'u16', q: Q.mA },
      { name: 'lowSocAlarm', type: 'u8', q: Q.percent, optional: true },
    ],
  },
  { group: 'balancing', write: 0xb5, read: 0xb6, fields: [mV('startVoltage'), mV('deltaVoltage')] },
  { group: 'limiterCurrent', write: 0xee, read: 0xed, fields: [{ name: 'current', type: 'u16', q: Q.amp }] },
];
