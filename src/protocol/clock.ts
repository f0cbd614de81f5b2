import { FrameError } from './errors';
import { num, type RawRecord } from './layout';

/** PACE clock bytes are binary (not BCD) local time with the year as Y − 2000 (docs/protocol.md#clock-and-history). */
export function formatClock(raw: RawRecord): string {
  const two = (name: string): string => String(num(raw, name)).padStart(2, '0');
  return `${2000 + num(raw, 'year')}-${two('month')}-${two('day')}T${two('hour')}:${two('minute')}:${two('second')}`;
}

export function parseClock(time: string): RawRecord {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(time);
  if (!match) throw new FrameError('range', `time "${time}" is not YYYY-MM-DDTHH:MM:SS`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    year < 2000 ||
    year > 2255 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new FrameError('range', `time "${time}" is not a valid date between 2000 and 2255`);
  }
  return { year: year - 2000, month, day, hour, minute, second };
}

/** A `Date` as the BMS clock shows it: local time, no zone. */
export function formatLocalTime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
