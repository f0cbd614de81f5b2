import type { ItemType, ItemValue } from './values';

/**
 * The BusItem change signals — `ItemsChanged` (`a{sa{sv}}`) and `PropertiesChanged` (`a{sv}`) —
 * written straight to D-Bus wire format (little endian, version 1), byte for byte what the D-Bus
 * library makes of the same message. They go out every publish cycle; the library builds every
 * byte, length and padding as a small Buffer of its own (about 35 KB of garbage per changed path)
 * and parses the signature again for every variant.
 */

/** One item as the signals carry it: `{ Value: <variant>, Text: <string> }`. */
export interface WireItem {
  readonly type: ItemType;
  /** null = invalid: an empty int32 array, as Victron's services send it. */
  readonly value: ItemValue;
  readonly text: string;
}

const SIGNAL = 4;
const LITTLE_ENDIAN = 0x6c; // 'l'
const FIELD_PATH = 1;
const FIELD_INTERFACE = 2;
const FIELD_MEMBER = 3;
const FIELD_SIGNATURE = 8;

class WireWriter {
  private buf = Buffer.allocUnsafe(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  /** Zero bytes up to the next multiple of `n` from the start of the message. */
  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  byte(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  uint32(v: number): void {
    this.word32(v, false);
  }

  int32(v: number): void {
    this.word32(v, true);
  }

  private word32(v: number, signed: boolean): void {
    this.align(4);
    this.room(4);
    if (signed) this.buf.writeInt32LE(v, this.length);
    else this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }

  double(v: number): void {
    this.align(8);
    this.room(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }

  /** `s` and `o`: length, UTF-8 bytes, NUL. */
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uint32(n);
    this.room(n + 1);
    this.buf.write(s, this.length, 'utf8');
    this.length += n;
    this.buf[this.length++] = 0;
  }

  /** `g`: one length byte, ASCII, NUL. */
  signature(g: string): void {
    this.byte(g.length);
    this.room(g.length + 1);
    this.buf.write(g, this.length, 'latin1');
    this.length += g.length;
    this.buf[this.length++] = 0;
  }

  /** An array's length goes before its elements and counts from the first element's alignment. */
  array(elementAlignment: number, writeElements: () => void): void {
    this.uint32(0);
    const lengthAt = this.length - 4;
    this.align(elementAlignment);
    const start = this.length;
    writeElements();
    this.buf.writeUInt32LE(this.length - start, lengthAt);
  }

  setUint32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function headerField(w: WireWriter, code: number, signature: string, value: string): void {
  w.align(8);
  w.byte(code);
  w.signature(signature);
  if (signature === 'g') w.signature(value);
  else w.string(value);
}

function variant(type: WireItem['type'], writer: WireWriter, value: ItemValue): void {
  if (value === null) {
    writer.signature('ai');
    writer.array(4, () => undefined);
  } else if (type === 's') {
    writer.signature('s');
    writer.string(String(value));
  } else if (type === 'i') {
    writer.signature('i');
    writer.int32(Number(value));
  } else {
    writer.signature('d');
    writer.double(Number(value));
  }
}

/** `a{sv}` with `Value` and `Text`. */
function itemDict(w: WireWriter, item: WireItem): void {
  w.array(8, () => {
    w.align(8);
    w.string('Value');
    variant(item.type, w, item.value);
    w.align(8);
    w.string('Text');
    w.signature('s');
    w.string(item.text);
  });
}

function signal(
  serial: number,
  path: string,
  iface: string,
  member: string,
  signature: string,
  body: (w: WireWriter) => void,
): Buffer {
  const w = new WireWriter();
  w.byte(LITTLE_ENDIAN);
  w.byte(SIGNAL);
  w.byte(0); // flags
  w.byte(1); // protocol version
  w.uint32(0); // body length, below
  w.uint32(serial);
  w.array(8, () => {
    headerField(w, FIELD_PATH, 'o', path);
    headerField(w, FIELD_INTERFACE, 's', iface);
    headerField(w, FIELD_MEMBER, 's', member);
    headerField(w, FIELD_SIGNATURE, 'g', signature);
  });
  w.align(8);
  const bodyStart = w.length;
  body(w);
  w.setUint32(4, w.length - bodyStart);
  return w.bytes();
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/**
 * Whether these strings and values can go on the wire as they are: no NUL in a string, integers
 * within int32, numbers finite. Anything else is left to the D-Bus library, which refuses it the
 * way it always has.
 */
export function wireSafe(items: readonly (readonly [path: string, item: WireItem])[]): boolean {
  for (const [path, item] of items) {
    if (path.includes('\0') || item.text.includes('\0')) return false;
    const v = item.value;
    if (v === null) continue;
    if (item.type === 's') {
      if (typeof v !== 'string' || v.includes('\0')) return false;
    } else if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    else if (item.type === 'i' && (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX)) return false;
  }
  return true;
}

/** `ItemsChanged` on `/`: every changed path with its value and text. */
export function encodeItemsChanged(
  serial: number,
  iface: string,
  items: readonly (readonly [path: string, item: WireItem])[],
): Buffer {
  return signal(serial, '/', iface, 'ItemsChanged', 'a{sa{sv}}', (w) => {
    w.array(8, () => {
      for (const [path, item] of items) {
        w.align(8);
        w.string(path);
        itemDict(w, item);
      }
    });
  });
}

/** `PropertiesChanged` on the item's own path. */
export function encodePropertiesChanged(serial: number, iface: string, path: string, item: WireItem): Buffer {
  return signal(serial, path, iface, 'PropertiesChanged', 'a{sv}', (w) => {
    itemDict(w, item);
  });
}
