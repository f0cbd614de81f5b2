import { HEX_VALUE, bytesToHex, hexToBytes } from './bytes';
import { FrameError, hex2 } from './errors';

/**
 * One decoded frame. In a request `cid2` is the command; in a response the same position carries
 * the return code (RTN), so responses are read with `cid2` meaning RTN.
 */
export interface Frame {
  readonly version: number;
  readonly address: number;
  readonly cid1: number;
  readonly cid2: number;
  readonly info: Uint8Array;
}

export const SOI = '~';
export const EOI = '\r';
/** LENID is 12 bits of INFO characters. */
export const MAX_INFO_CHARS = 0xfff;
/** `~` + 12 header chars + 4095 INFO chars + 4 checksum chars. */
export const MAX_FRAME_CHARS = 1 + 12 + MAX_INFO_CHARS + 4;

/** LENGTH field: LCHKSUM in the high nibble, LENID in the low 12 bits (docs/protocol.md#frame, docs/pitfalls.md#p-06). */
export function lengthField(infoChars: number): number {
  if (infoChars < 0 || infoChars > MAX_INFO_CHARS || infoChars % 2 !== 0) {
    throw new FrameError('range', `INFO of ${infoChars} characters cannot be framed (even, at most ${MAX_INFO_CHARS})`);
  }
  const nibbleSum = (infoChars & 0xf) + ((infoChars >> 4) & 0xf) + ((infoChars >> 8) & 0xf);
  const lchksum = (16 - (nibbleSum & 0xf)) & 0xf;
  return (lchksum << 12) | infoChars;
}

/** Two's complement of the 16-bit sum of the ASCII codes (mod 65536, never 65535: docs/pitfalls.md#p-01). */
export function frameChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += body.charCodeAt(i);
  return (0x10000 - (sum & 0xffff)) & 0xffff;
}

/** Frame text without the trailing CR. */
export function encodeFrame(frame: Frame): string {
  const infoHex = bytesToHex(frame.info);
  const body =
    hex2(frame.version) +
    hex2(frame.address) +
    hex2(frame.cid1) +
    hex2(frame.cid2) +
    lengthField(infoHex.length).toString(16).toUpperCase().padStart(4, '0') +
    infoHex;
  return SOI + body + frameChecksum(body).toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Parse one frame (with or without its CR). The checksum is checked first, so a frame cut short
 * in transit reports `checksum` rather than a confusing length mismatch. One pass validates the
 * digits and sums the checksum: this runs for every frame on the bus.
 */
export function parseFrame(text: string): Frame {
  const end = text.endsWith(EOI) ? text.length - 1 : text.length;
  if (text.charCodeAt(0) !== 0x7e) throw new FrameError('format', 'frame does not start with "~"');
  const chars = end - 1;
  if (chars < 16) throw new FrameError('format', `frame of ${end} characters is shorter than a header and checksum`);
  if (chars > MAX_FRAME_CHARS - 1)
    throw new FrameError('length', `frame of ${end} characters is longer than any valid frame`);
  let sum = 0;
  const checksumAt = end - 4;
  for (let i = 1; i < checksumAt; i++) {
    const c = text.charCodeAt(i);
    sum += c;
    if ((HEX_VALUE[c] as number) < 0) throw notHex();
  }
  for (let i = checksumAt; i < end; i++) if ((HEX_VALUE[text.charCodeAt(i)] as number) < 0) throw notHex();
  const sent = hexValue(text, checksumAt, 4);
  const computed = (0x10000 - (sum & 0xffff)) & 0xffff;
  if (sent !== computed) {
    throw new FrameError('checksum', `checksum ${hex4(sent)} does not match the computed ${hex4(computed)}`);
  }
  if (chars % 2 !== 0) throw new FrameError('format', 'frame has an odd number of hex digits');
  const length = hexValue(text, 9, 4);
  const lenid = length & 0xfff;
  if (lenid % 2 !== 0 || lengthField(lenid) !== length) {
    throw new FrameError('lchksum', `length field ${hex4(length)} fails its own checksum`);
  }
  const infoChars = checksumAt - 13;
  if (infoChars !== lenid) {
    throw new FrameError('length', `length field announces ${lenid} INFO characters but ${infoChars} arrived`);
  }
  return {
    version: hexValue(text, 1, 2),
    address: hexValue(text, 3, 2),
    cid1: hexValue(text, 5, 2),
    cid2: hexValue(text, 7, 2),
    info: hexToBytes(text, 13, checksumAt),
  };
}

function notHex(): FrameError {
  return new FrameError('format', 'frame contains characters that are not hex digits');
}

/** Digits already validated by the caller. */
function hexValue(text: string, start: number, digits: number): number {
  let value = 0;
  for (let i = start; i < start + digits; i++) value = value * 16 + (HEX_VALUE[text.charCodeAt(i)] ?? 0);
  return value;
}

function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}
