import { FrameError } from './errors';

/**
 * How a raw integer becomes an SI value: `si = (raw - offset) * num / den`, rounded to the
 * resolution the field actually has so that no float noise reaches users.
 */
export interface Quantity {
  readonly num: number;
  readonly den: number;
  readonly offset?: number;
  readonly decimals: number;
}

export const Q = {
  mV: { num: 1, den: 1000, decimals: 3 },
  tenMv: { num: 1, den: 100, decimals: 2 },
  mA: { num: 1, den: 1000, decimals: 3 },
  tenMa: { num: 1, den: 100, decimals: 2 },
  hundredMa: { num: 1, den: 10, decimals: 1 },
  amp: { num: 1, den: 1, decimals: 0 },
  mAh: { num: 1, den: 1000, decimals: 3 },
  tenMah: { num: 1, den: 100, decimals: 2 },
  percent: { num: 1, den: 1, decimals: 0 },
  permille: { num: 1, den: 10, decimals: 1 },
  /** PACE: 0.1 K with offset 2730 (PITFALLS.md P-08). */
  paceDeciKelvin: { num: 1, den: 10, offset: 2730, decimals: 1 },
  /** Pylontech, Seplos, EG4: 0.1 K with offset 2731. */
  deciKelvin: { num: 1, den: 10, offset: 2731, decimals: 1 },
  tenthSecond: { num: 1, den: 10, decimals: 1 },
  ms25: { num: 25, den: 1000, decimals: 3 },
  us25: { num: 25, den: 1_000_000, decimals: 6 },
  minute: { num: 60, den: 1, decimals: 0 },
  count: { num: 1, den: 1, decimals: 0 },
} as const satisfies Record<string, Quantity>;

export function toSi(q: Quantity, raw: number): number {
  return roundTo(((raw - (q.offset ?? 0)) * q.num) / q.den, q.decimals);
}

export function fromSi(q: Quantity, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FrameError('range', `${what} must be a finite number`);
  }
  return Math.round((value * q.den) / q.num) + (q.offset ?? 0);
}

export function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const rounded = Math.round(value * f) / f;
  return rounded === 0 ? 0 : rounded;
}
