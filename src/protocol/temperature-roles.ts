import type { Dialect } from './dialect';

/** Where a temperature sensor sits: on the cells, on the MOSFETs, in the air, on the BMS board. */
export type TemperatureRole = 'cell' | 'mosfet' | 'ambient' | 'board';

const C = 'cell';
const CELLS4: readonly TemperatureRole[] = [C, C, C, C];

/**
 * Sensor order by dialect and sensor count (docs/protocol.md#realtime-values): PACE sends cells 1–4, MOSFET,
 * ambient (Sunsynk-style PACE packs six cell sensors, then MOSFET and ambient); Seplos and EG4 the
 * same six with ambient before MOSFET; Pylontech the BMS board first, then four cell groups (and a
 * MOSFET sensor on US3000B and later). A firmware with another order is another row.
 */
const ROLES: Readonly<Record<Dialect, Readonly<Record<number, readonly TemperatureRole[]>>>> = {
  pace: { 4: CELLS4, 6: [...CELLS4, 'mosfet', 'ambient'], 8: [...CELLS4, C, C, 'mosfet', 'ambient'] },
  pylontech: { 5: ['board', ...CELLS4], 6: ['board', ...CELLS4, 'mosfet'] },
  seplos: { 6: [...CELLS4, 'ambient', 'mosfet'] },
  eg4: { 6: [...CELLS4, 'ambient', 'mosfet'] },
};

/** When the dialect is not known (a reading built by hand, a history record): the common shapes. */
const BY_COUNT: Readonly<Record<number, readonly TemperatureRole[]>> = {
  5: ROLES.pylontech[5] ?? CELLS4,
  6: ROLES.pace[6] ?? CELLS4,
  8: ROLES.pace[8] ?? CELLS4,
};

/**
 * The role of each of `count` sensors. A count no row knows is read as cell sensors only: charge
 * control then derates on every reading, which errs on the safe side.
 */
export function temperatureRoles(dialect: Dialect | null, count: number): readonly TemperatureRole[] {
  const known = (dialect === null ? BY_COUNT : ROLES[dialect])[count];
  return known ?? Array.from({ length: count }, () => C);
}

/** "cell 2", "MOSFET", "ambient", "BMS board": the label of sensor `index` (0-based) among `roles`. */
export function temperatureLabel(roles: readonly TemperatureRole[], index: number): string {
  const role = roles[index] ?? C;
  if (role === 'mosfet') return 'MOSFET';
  if (role === 'ambient') return 'ambient';
  if (role === 'board') return 'BMS board';
  let n = 0;
  for (let i = 0; i <= index; i++) if ((roles[i] ?? C) === C) n++;
  return `cell ${String(n)}`;
}
