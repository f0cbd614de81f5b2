import { englishTexts, type Texts } from './i18n';

/**
 * The numeric settings' ranges, in one place: the runtime checks them (parseLinkConfig, the nodes)
 * and the build writes them into the editor's HTML, so the editor flags exactly what the runtime
 * would refuse.
 */
export interface Range {
  readonly min: number;
  readonly max: number;
  /** Whole numbers only. */
  readonly integer?: boolean;
  readonly unit: string;
}

export const RANGES = {
  interval: { min: 1, max: 3600, unit: 's' },
  timeout: { min: 100, max: 30_000, unit: 'ms' },
  gap: { min: 0, max: 5000, unit: 'ms' },
  /** A pack of the bank: its DIP address, 1 (the master) to 15. */
  pack: { min: 1, max: 15, integer: true, unit: '' },
} as const satisfies Readonly<Record<string, Range>>;

export type RangeName = keyof typeof RANGES;

/**
 * The value in range, or the reason it is not (one line, for the status and the log; the setting's
 * name from the catalog, `bms-link.range.<name>`).
 */
export function inRange(
  name: RangeName,
  text: unknown,
  t: Texts = englishTexts,
): { value: number } | { error: string } {
  const r: Range = RANGES[name];
  const value = typeof text === 'number' ? text : typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  const whole = r.integer === true;
  if (!Number.isFinite(value) || value < r.min || value > r.max || (whole && !Number.isInteger(value))) {
    const vars = { setting: t(`bms-link.range.${name}`), min: r.min, max: r.max, unit: r.unit };
    return { error: t(whole ? 'bms-link.errors.rangeWhole' : 'bms-link.errors.range', vars).trimEnd() };
  }
  return { value };
}
