import { Variant } from './dbus';
import { round } from '../round';

/** D-Bus type of a Victron item: `d` physical quantities, `i` enums / flags / counts, `s` text. */
export type ItemType = 'd' | 'i' | 's';

export interface ItemSpec {
  readonly type: ItemType;
  readonly unit?: string;
  /** Display precision: values are rounded to it before they are compared and sent. */
  readonly decimals?: number;
  readonly writable?: boolean;
}

/** null = invalid (an empty int32 array on the wire). */
export type ItemValue = number | string | null;

export const INVALID_TEXT = '---';

/** The value as it goes on the bus: rounded, integral where it must be, never NaN. */
export function normalize(spec: ItemSpec, value: unknown): ItemValue {
  if (value === null || value === undefined) return null;
  if (spec.type === 's')
    return typeof value === 'string'
      ? value
      : typeof value === 'number' && Number.isFinite(value)
        ? String(value)
        : null;
  const n = typeof value === 'boolean' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  if (spec.type === 'i') return Math.round(n);
  const rounded = round(n, spec.decimals ?? 3);
  return Object.is(rounded, -0) ? 0 : rounded;
}

export function textOf(spec: ItemSpec, value: ItemValue): string {
  if (value === null) return INVALID_TEXT;
  if (typeof value === 'string') return value;
  const number = spec.type === 'd' && spec.decimals !== undefined ? value.toFixed(spec.decimals) : String(value);
  return `${number}${spec.unit ?? ''}`;
}

const EMPTY: readonly number[] = [];

export function toVariant(spec: ItemSpec, value: ItemValue): Variant {
  if (value === null) return new Variant('ai', EMPTY);
  if (spec.type === 's') return new Variant('s', String(value));
  return new Variant(spec.type, value);
}

/** A variant a client sent, as a plain value; undefined for anything a BusItem never holds. */
export function fromVariant(variant: unknown): number | string | null | undefined {
  if (!(variant instanceof Variant)) return undefined;
  const v: unknown = variant.value;
  if (Array.isArray(v) && v.length === 0) return null;
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return Number(v);
  return undefined;
}
