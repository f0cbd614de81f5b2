import { FrameError } from './errors';

/** How a raw integer becomes an SI value: `si = (raw - offset) * num / den`, `den` a power of ten. */
export interface Quantity {
  readonly num: number;
  readonly den: number;
  readonly offset?: number;
}

export const Q = {
  mV: { num: 1, den: 1000 },
  tenMv: { num: 1, den: 100 },
  mA: { num: 1, den: 1000 },
  tenMa: { num: 1, den: 100 },
  hundredMa: { num: 1, den: 10 },
  amp: { num: 1, den: 1 },
  mAh: { num: 1, den: 1000 },
  tenMah: { num: 1, den: 100 },
  percent: { num: 1, den: 1 },
  permille: { num: 1, den: 10 },
  /** PACE: 0.1 K with offset 2730 (docs/pitfalls.md#p-08). */
  paceDeciKelvin: { num: 1, den: 10, offset: 2730 },
  /** Pylontech, Seplos, EG4: 0.1 K with offset 2731. */
  deciKelvin: { num: 1, den: 10, offset: 2731 },
  tenthSecond: { num: 1, den: 10 },
  ms25: { num: 25, den: 1000 },
  us25: { num: 25, den: 1_000_000 },
  minute: { num: 60, den: 1 },
  count: { num: 1, den: 1 },
} as const satisfies Record<string, Quantity>;

/**
 * Every `den` is a power of ten and the numerator an integer, so the division already yields the
 * double nearest to the exact decimal (3271 / 1000 === 3.271): no further rounding is needed.
 */
export function toSi(q: Quantity, raw: number): number {
  return ((raw - (q.offset ?? 0)) * q.num) / q.den + 0;
}

export function fromSi(q: Quantity, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FrameError('range', `${what} must be a finite number`);
  }
  return Math.round((value * q.den) / q.num) + (q.offset ?? 0);
}
