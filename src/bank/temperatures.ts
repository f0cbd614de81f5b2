import { temperatureRoles, type PackAnalog, type TemperatureRole } from '../protocol';

export interface SensorReading {
  /** 1-based sensor number as the pack reports it. */
  readonly sensor: number;
  readonly value: number;
}

export interface SensorGroups {
  readonly cells: readonly SensorReading[];
  readonly mosfet: readonly SensorReading[];
  readonly ambient: readonly SensorReading[];
  readonly board: readonly SensorReading[];
  /** MOSFET and BMS board: the electronics' own heat. */
  readonly internal: readonly SensorReading[];
}

type Sensors = Pick<PackAnalog, 'temperatures' | 'temperatureRoles'>;

const groupsOf = new WeakMap<Sensors, SensorGroups>();
const NONE: SensorGroups = { cells: [], mosfet: [], ambient: [], board: [], internal: [] };

/** The roles a reading's sensors have: its decoder's, else the common shape for the sensor count. */
function rolesOf(analog: Sensors): readonly TemperatureRole[] {
  return analog.temperatureRoles ?? temperatureRoles(null, analog.temperatures.length);
}

/**
 * A pack's present temperature readings by role; absent sensors are left out. A reading's groups
 * are asked for by aggregation, charge control and every item builder each cycle: they are worked
 * out once per reading (decoded readings are never changed in place).
 */
export function sensorGroups(analog: Sensors | null): SensorGroups {
  if (!analog) return NONE;
  const known = groupsOf.get(analog);
  if (known) return known;
  const roles = rolesOf(analog);
  const groups = {
    cells: [] as SensorReading[],
    mosfet: [] as SensorReading[],
    ambient: [] as SensorReading[],
    board: [] as SensorReading[],
    internal: [] as SensorReading[],
  };
  const temperatures = analog.temperatures;
  for (let i = 0; i < temperatures.length; i++) {
    const value = temperatures[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const reading = { sensor: i + 1, value };
    const role = roles[i] ?? 'cell';
    if (role === 'cell') groups.cells.push(reading);
    else groups[role].push(reading);
    if (role === 'mosfet' || role === 'board') groups.internal.push(reading);
  }
  groupsOf.set(analog, groups);
  return groups;
}
