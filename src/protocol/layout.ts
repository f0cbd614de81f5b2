import { ByteReader, ByteWriter, intWidth, type IntType } from './bytes';
import { FrameError } from './errors';

/**
 * Command layouts are data: a list of steps read in order. A firmware variant that only adds or
 * reorders fields becomes a new step list, not new parsing code.
 */
export type Step =
  | { readonly name: string; readonly type: IntType }
  /** An array whose length is an earlier field plus `extra` (EG4 announces 4 temperatures and sends 6). */
  | { readonly name: string; readonly type: IntType; readonly countFrom: string; readonly extra?: number }
  /** Fixed-width text, space or NUL padded. */
  | { readonly name: string; readonly ascii: number }
  /** Trailing fields present on some firmware only: each is read while whole bytes for it remain. */
  | { readonly optional: readonly Step[] }
  /** Fields present only when an earlier field is at least `atLeast` (Pylontech UD = 4 capacities). */
  | { readonly when: string; readonly atLeast: number; readonly steps: readonly Step[] }
  /** Whatever bytes remain, kept undecoded. */
  | { readonly rest: string };

export type RawValue = number | readonly number[] | string | Uint8Array;
export type RawRecord = Record<string, RawValue | undefined>;

type Reader = (reader: ByteReader, into: RawRecord) => void;

/** A step list compiled into closures: layouts are read for every frame on the bus. */
export interface Layout {
  readonly steps: readonly Step[];
  readonly read: Reader;
}

export function compileLayout(steps: readonly Step[]): Layout {
  return { steps, read: compileSteps(steps) };
}

export function readLayout(reader: ByteReader, compiled: Layout, into: RawRecord = {}): RawRecord {
  compiled.read(reader, into);
  return into;
}

function compileSteps(steps: readonly Step[]): Reader {
  const readers = steps.map(compileStep);
  return (reader, into) => {
    for (const read of readers) read(reader, into);
  };
}

function compileStep(step: Step): Reader {
  if ('optional' in step) {
    const inner = step.optional.map((s) => ({ width: stepWidth(s), read: compileStep(s) }));
    return (reader, into) => {
      for (const { width, read } of inner) {
        if (reader.remaining < width) break;
        read(reader, into);
      }
    };
  }
  if ('when' in step) {
    const inner = compileSteps(step.steps);
    return (reader, into) => {
      if (num(into, step.when) >= step.atLeast) inner(reader, into);
    };
  }
  if ('rest' in step) {
    return (reader, into) => {
      if (reader.remaining > 0) into[step.rest] = reader.take(reader.remaining);
    };
  }
  if ('ascii' in step)
    return (reader, into) => {
      into[step.name] = String.fromCharCode(...reader.take(step.ascii));
    };
  const { name, type } = step;
  if ('countFrom' in step) {
    const width = intWidth(type);
    const extra = step.extra ?? 0;
    return (reader, into) => {
      const count = num(into, step.countFrom) + extra;
      if (count * width > reader.remaining) {
        throw new FrameError('layout', `${step.countFrom} = ${count - extra} needs more bytes than the block has`);
      }
      if (type === 'u16' || type === 's16') {
        into[name] = reader.u16Array(count, type === 's16');
        return;
      }
      const values = new Array<number>(count);
      for (let i = 0; i < count; i++) values[i] = reader.int(type);
      into[name] = values;
    };
  }
  return (reader, into) => {
    into[name] = reader.int(type);
  };
}

export function writeLayout(writer: ByteWriter, compiled: Layout, record: RawRecord): void {
  const steps = compiled.steps;
  const values: RawRecord = { ...record };
  deriveCounts(steps, values);
  for (const step of steps) writeStep(writer, step, values);
}

/** Count fields follow from their arrays, so callers never keep the two in sync by hand. */
function deriveCounts(steps: readonly Step[], values: RawRecord): void {
  for (const step of steps) {
    if ('optional' in step) deriveCounts(step.optional, values);
    else if ('when' in step) deriveCounts(step.steps, values);
    else if ('countFrom' in step) {
      const array = values[step.name];
      if (Array.isArray(array)) {
        const count = array.length - (step.extra ?? 0);
        const given = values[step.countFrom];
        if (given !== undefined && given !== count) {
          throw new FrameError(
            'range',
            `${step.countFrom} = ${String(given)} but ${step.name} has ${array.length} values`,
          );
        }
        values[step.countFrom] = count;
      }
    }
  }
}

function writeStep(writer: ByteWriter, step: Step, values: RawRecord): void {
  if ('optional' in step) {
    for (const inner of step.optional) {
      if (!isPresent(inner, values)) break;
      writeStep(writer, inner, values);
    }
  } else if ('when' in step) {
    if (num(values, step.when) >= step.atLeast) for (const inner of step.steps) writeStep(writer, inner, values);
  } else if ('rest' in step) {
    const rest = values[step.rest];
    if (rest instanceof Uint8Array) writer.bytes(rest);
  } else if ('ascii' in step) {
    const text = values[step.name] ?? '';
    if (typeof text !== 'string' || text.length > step.ascii || !/^[\x20-\x7e\0]*$/.test(text)) {
      throw new FrameError('range', `${step.name} must be printable ASCII of at most ${step.ascii} characters`);
    }
    writer.bytes(Uint8Array.from(text.padEnd(step.ascii, ' '), (c) => c.charCodeAt(0)));
  } else if ('countFrom' in step) {
    const array = values[step.name];
    if (!Array.isArray(array)) throw new FrameError('range', `${step.name} is missing`);
    for (const value of array as readonly number[]) writer.int(step.type, value, step.name);
  } else {
    writer.int(step.type, num(values, step.name), step.name);
  }
}

function isPresent(step: Step, values: RawRecord): boolean {
  if ('name' in step) return values[step.name] !== undefined;
  return true;
}

function stepWidth(step: Step): number {
  if ('type' in step && !('countFrom' in step)) return intWidth(step.type);
  if ('ascii' in step) return step.ascii;
  return 0;
}

export function num(record: RawRecord, name: string): number {
  const value = record[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new FrameError('range', `${name} must be a number`);
  }
  return value;
}

export function nums(record: RawRecord, name: string): readonly number[] {
  const value = record[name];
  return Array.isArray(value) ? (value as readonly number[]) : [];
}

export function text(record: RawRecord, name: string): string {
  const value = record[name];
  return typeof value === 'string' ? value : '';
}
