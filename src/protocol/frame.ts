import { bytesToHex, hexToBytes } from './bytes';
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

/** LENGTH field: LCHKSUM in the high nibble, LENID in the low 12 bits (PROTOCOL.md §2.2, P-06). */
export function lengthField(infoChars: number): number {
  if (infoChars < 0 || infoChars > MAX_INFO_CHARS || infoChars % 2 !== 0) {
    throw new FrameError('range', `INFO of ${infoChars} characters cannot be framed (even, at most ${MAX_INFO_CHARS})`);
  }
  const nibbleSum = (infoChars & 0xf) + ((infoChars >> 4) & 0xf) + ((infoChars >> 8) & 0xf);
  const lchksum = (16 - (nibbleSum & 0xf)) & 0xf;
  return (lchksum << 12) | infoChars;
}

/** Two's complement of the 16-bit sum of the ASCII codes (mod 65536, never 65535: P-01). */
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
 * in transit reports `checksum` rather than a confusing length mismatch.
 */
export function parseFrame(text: string): Frame {
  const raw = text.endsWith(EOI) ? text.slice(0, -1) : text;
  if (!raw.startsWith(SOI)) throw new FrameError('format', 'frame does not start with "~"');
  const body = raw.slice(1);
  if (body.length < 16) throw new FrameError('format', `frame of ${raw.length} characters is shorter than a header and checksum`);
  if (body.length > MAX_FRAME_CHARS - 1) throw new FrameError('length', `frame of ${raw.length} characters is longer than any valid frame`);
  if (!/^[0-9A-Fa-f]+$/.test(body)) throw new FrameError('format', 'frame contains characters that are not hex digits');

  const checked = body.slice(0, -4);
  const sent = parseInt(body.slice(-4), 16);
  const computed = frameChecksum(checked);
  if (sent !== computed) {
    throw new FrameError('checksum', `checksum ${hex4(sent)} does not match the computed ${hex4(computed)}`);
  }
  if (body.length % 2 !== 0) throw new FrameError('format', 'frame has an odd number of hex digits');
  const length = parseInt(body.slice(8, 12), 16);
  const lenid = length & 0xfff;
  if (lengthField(lenid & 0xffe) !== length || lenid % 2 !== 0) {
    throw new FrameError('lchksum', `length field ${hex4(length)} fails its own checksum`);
  }
  const infoHex = checked.slice(12);
  if (infoHex.length !== lenid) {
    throw new FrameError('length', `length field announces ${lenid} INFO characters but ${infoHex.length} arrived`);
  }
  return {
    version: parseInt(body.slice(0, 2), 16),
    address: parseInt(body.slice(2, 4), 16),
    cid1: parseInt(body.slice(4, 6), 16),
    cid2: parseInt(body.slice(6, 8), 16),
    info: hexToBytes(infoHex),
  };
}

function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}
