import { ByteReader, ByteWriter, intWidth, type IntType } from './bytes';
import type { Dialect } from './dialect';
import { FrameError } from './errors';
import { compileLayout, readLayout, writeLayout, type RawRecord, type Step } from './layout';
import { fromSi, toSi, type Quantity } from './units';

/** Decoded request parameters or response data: plain JSON-able objects. */
export type Fields = Record<string, unknown>;

export interface CodecContext {
  readonly dialect: Dialect;
  /** Header VER / ADR of the frame being decoded or built. */
  readonly version: number;
  readonly address: number;
  /** Decoded parameters of the request a response answers (e.g. the pack or FF asked for). */
  readonly request: Fields;
  readonly options?: Fields;
}

export interface InfoCodec {
  decode(info: Uint8Array, ctx: CodecContext): Fields;
  encode(value: Fields, ctx: CodecContext): Uint8Array;
  /** The field table of table-driven codecs (parameter editors and tests read it). */
  readonly fields?: readonly FieldDef[];
  readonly direction?: 'read' | 'write';
  /**
   * What replies of this layout look like on the wire: `bytes:N` for each INFO length a fixed
   * layout can have, or a name for layouts of their own shape (`analog`, `alarms`, …). Two
   * commands whose shapes share an entry have replies that can be taken for each other.
   */
  readonly shape?: readonly string[];
}

/** INFO lengths a step list can have, or undefined when it has no fixed length (arrays, rests). */
export function layoutLengths(steps: readonly Step[]): number[] | undefined {
  let lengths = [0];
  for (const step of steps) {
    if ('optional' in step) {
      const widths = step.optional.map((s) => layoutLengths([s]));
      if (widths.some((w) => w?.length !== 1)) return undefined;
      const prefixes = [0];
      for (const w of widths) prefixes.push((prefixes[prefixes.length - 1] ?? 0) + (w?.[0] ?? 0));
      lengths = lengths.flatMap((l) => prefixes.map((p) => l + p));
    } else if ('ascii' in step) lengths = lengths.map((l) => l + step.ascii);
    else if ('type' in step && !('countFrom' in step)) lengths = lengths.map((l) => l + intWidth(step.type));
    else return undefined;
  }
  return [...new Set(lengths)].sort((a, b) => a - b);
}

export const bytesShape = (lengths: readonly number[]): string[] => lengths.map((n) => `bytes:${n}`);

/** A codec over a step layout; leftover bytes are an error unless the layout keeps a `rest`. */
export function layoutCodec(
  steps: readonly Step[],
  toFields: (raw: RawRecord, ctx: CodecContext) => Fields,
  toRaw: (value: Fields, ctx: CodecContext) => RawRecord,
): InfoCodec {
  const compiled = compileLayout(steps);
  const lengths = layoutLengths(steps);
  return {
    ...(lengths ? { shape: bytesShape(lengths) } : {}),
    decode(info, ctx) {
      const reader = new ByteReader(info);
      const raw = readLayout(reader, compiled);
      if (reader.remaining > 0) {
        throw new FrameError('layout', `${reader.remaining} unexpected byte(s) after the known fields`);
      }
      return toFields(raw, ctx);
    },
    encode(value, ctx) {
      const writer = new ByteWriter();
      writeLayout(writer, compiled, toRaw(value, ctx));
      return writer.toBytes();
    },
  };
}

/** Write acknowledgements and requests without data: INFO must be empty (a reply with data answers something else). */
export const EMPTY: InfoCodec = {
  shape: ['bytes:0'],
  decode: (info) => {
    if (info.length > 0) throw new FrameError('layout', `${info.length} byte(s) where an empty reply was expected`);
    return {};
  },
  encode: () => new Uint8Array(0),
};

/** A request whose INFO is one constant byte (PbmsTools sends 0x9C with 01). */
export function constantRequest(byte: number): InfoCodec {
  return { decode: () => ({}), encode: () => Uint8Array.of(byte) };
}

/**
 * A named field: `q` scales it to SI, `bool` makes it an enable flag, `optional` marks the start of
 * fields some firmware omits, `writeType` overrides the type on writes (DOC1 reads back negative but
 * is written positive: docs/pitfalls.md#p-16), `hidden` fields are written as `fill` and not reported.
 */
export interface FieldDef {
  readonly name: string;
  readonly type: IntType;
  readonly q?: Quantity;
  readonly bool?: true;
  readonly optional?: true;
  readonly writeType?: IntType;
  readonly hidden?: (ctx: CodecContext) => number;
}

export function fieldsCodec(defs: readonly FieldDef[], direction: 'read' | 'write' = 'read'): InfoCodec {
  const plain: Step[] = [];
  const optional: Step[] = [];
  for (const def of defs) {
    const step = { name: def.name, type: direction === 'write' ? (def.writeType ?? def.type) : def.type };
    (def.optional || optional.length ? optional : plain).push(step);
  }
  const steps: Step[] = optional.length ? [...plain, { optional }] : plain;
  const visible = defs.filter((d) => !d.hidden);
  const codec = layoutCodec(
    steps,
    (raw) => {
      const out: Fields = {};
      for (const def of visible) {
        const value = raw[def.name];
        if (typeof value !== 'number') continue;
        out[def.name] = def.bool ? value !== 0 : def.q ? toSi(def.q, value) : value;
      }
      return out;
    },
    (value, ctx) => {
      rejectUnknown(
        value,
        visible.map((d) => d.name),
      );
      const raw: RawRecord = {};
      for (const def of defs) {
        if (def.hidden) {
          raw[def.name] = def.hidden(ctx);
          continue;
        }
        const v = value[def.name];
        if (v === undefined) {
          if (def.optional) continue;
          throw new FrameError('range', `${def.name} is required`);
        }
        raw[def.name] = def.bool ? boolField(v, def.name) : def.q ? fromSi(def.q, v, def.name) : intField(v, def.name);
      }
      return raw;
    },
  );
  return { ...codec, fields: defs, direction };
}

export function rejectUnknown(value: Fields, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new FrameError('range', `unknown field "${key}"`);
  }
}

export function boolField(value: unknown, what: string): number {
  if (typeof value !== 'boolean') throw new FrameError('range', `${what} must be true or false`);
  return value ? 1 : 0;
}

export function intField(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new FrameError('range', `${what} must be an integer`);
  return value;
}

export function textField(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new FrameError('range', `${what} must be a string`);
  return value;
}

/** Strings arrive space/NUL padded; Pylontech also pads with '-'. */
export function trimText(text: string, padding = ' \0'): string {
  let start = 0;
  let end = text.length;
  while (start < end && padding.includes(text.charAt(start))) start++;
  while (end > start && padding.includes(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

/** "1.7" from bytes 01 07; the inverse checks the shape. */
export function dottedVersion(parts: readonly number[]): string {
  return parts.join('.');
}

export function parseDottedVersion(value: unknown, parts: number, what: string): number[] {
  const text = textField(value, what);
  const numbers = text.split('.').map((p) => Number(p));
  if (
    numbers.length !== parts ||
    numbers.some((n) => !Number.isInteger(n) || n < 0 || n > 255) ||
    !/^[0-9.]+$/.test(text)
  ) {
    throw new FrameError('range', `${what} must look like ${Array.from({ length: parts }, (_, i) => i + 1).join('.')}`);
  }
  return numbers;
}

export function bit(value: number, index: number): boolean {
  return ((value >> index) & 1) === 1;
}
