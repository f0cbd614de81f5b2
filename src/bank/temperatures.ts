/**
 * Which temperature sensors sit on the cells. PACE packs send 6 (cells 1–4, MOSFET, ambient),
 * Seplos and EG4 the same six with MOSFET and ambient swapped, Pylontech 5 (BMS board first,
 * then four cell groups), Sunsynk-style PACE packs 8 (six cell sensors, MOSFET, ambient).
 * The non-cell sensors are read as one "internal" group, so the swapped order does not matter.
 */
interface SensorLayout {
  readonly count: number;
  readonly cells: readonly number[];
  readonly internal: readonly number[];
}

const LAYOUTS: readonly SensorLayout[] = [
  { count: 5, cells: [1, 2, 3, 4], internal: [0] },
  { count: 6, cells: [0, 1, 2, 3], internal: [4, 5] },
  { count: 8, cells: [0, 1, 2, 3, 4, 5], internal: [6, 7] },
];

export interface SensorReading {
  /** 1-based sensor number as the pack reports it. */
  readonly sensor: number;
  readonly value: number;
}

export interface SensorGroups {
  readonly cells: readonly SensorReading[];
  readonly internal: readonly SensorReading[];
}

/** Cell and internal (MOSFET / board / ambient) readings; absent sensors are left out. */
export function sensorGroups(temperatures: readonly (number | null)[]): SensorGroups {
  const layout = LAYOUTS.find((l) => l.count === temperatures.length);
  const pick = (indexes: readonly number[]): SensorReading[] => indexes.flatMap((i) => {
    const value = temperatures[i];
    return typeof value === 'number' && Number.isFinite(value) ? [{ sensor: i + 1, value }] : [];
  });
  if (!layout) return { cells: pick(temperatures.map((_, i) => i)), internal: [] };
  return { cells: pick(layout.cells), internal: pick(layout.internal) };
}
