import { analogUdByte } from './analog';
import { alarmsCustomByte } from './alarms';
import { bytesToHex } from './bytes';
import { findCommand } from './commands';
import type { Fields } from './codec';
import { DIALECT_PROFILES, commandKind, type CommandKind, type Dialect } from './dialect';
import { FrameError, hex2, isFrameError, rtnError, type FrameErrorKind } from './errors';
import { encodeFrame, parseFrame, type Frame } from './frame';
import { checkByte, requireCommand, type FrameHeaderOptions } from './request';

/** Error names in decode results; LCHKSUM and CHKSUM failures are both `checksum`. */
export type DecodeErrorName = Exclude<FrameErrorKind, 'lchksum' | 'rtn'>;

/** The canonical decode result (`msg.payload` shape; docs/payloads.md). */
export interface DecodeResult {
  readonly ok: boolean;
  readonly error?: DecodeErrorName;
  /** One line for people, on every failed decode. */
  readonly message?: string;
  /** Set when something was assumed, e.g. the command of a reply decoded without its request. */
  readonly note?: string;
  readonly version?: number;
  readonly address?: number;
  readonly cid1?: number;
  readonly rtn?: number;
  readonly dialect?: Dialect;
  readonly command?: CommandKind;
  readonly data: Fields;
}

export interface DecodeOptions {
  /** The request this reply answers: tells the command and whether all packs were asked for. */
  readonly request?: string;
  readonly dialect?: Dialect | 'auto';
}

/** Protocol versions the dialects speak; anything else is another protocol. */
const SPOKEN_VERSIONS: ReadonlySet<number> = new Set(Object.values(DIALECT_PROFILES).map((p) => p.version));
/** 0x4F answers with its version in VER: there the byte is data. */
const PROTOCOL_VERSION_CID2 = 0x4f;

function errorName(kind: FrameErrorKind): DecodeErrorName {
  return kind === 'lchksum' ? 'checksum' : kind === 'rtn' ? 'format' : kind;
}

/** Frame text without its CR (and without a LF some gateways append). */
function frameText(text: string): string {
  let end = text.length;
  if (text.charCodeAt(end - 1) === 0x0a) end--;
  if (text.charCodeAt(end - 1) === 0x0d) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Our own request read back; replies are almost never the same length, so that is checked first. */
function isEcho(request: string, reply: string): boolean {
  return request.length === reply.length && (request === reply || request.toUpperCase() === reply.toUpperCase());
}

/** Header bytes of a damaged frame, when at least they are readable. */
function readableHeader(text: string): Pick<DecodeResult, 'version' | 'address' | 'cid1' | 'rtn'> | undefined {
  const match = /^~([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})/.exec(text);
  if (!match) return undefined;
  const [version, address, cid1, rtn] = match.slice(1).map((h) => parseInt(h, 16));
  return { version, address, cid1, rtn };
}

/**
 * Which dialect a reply is in (docs/payloads.md): CID1 0x4A is EG4, VER 0x25 and up is PACE; in
 * 0x20 the Seplos custom-number bytes (or, for other commands, ADR 0) tell Seplos from Pylontech.
 */
export function resolveDialect(
  header: { version: number; address: number; cid1: number },
  cid2: number | undefined,
  responseInfo?: Uint8Array,
): Dialect {
  if (header.cid1 === 0x4a) return 'eg4';
  if (header.version >= 0x25) return 'pace';
  if (cid2 === 0x42) return responseInfo && analogUdByte(responseInfo) === 0x0a ? 'seplos' : 'pylontech';
  if (cid2 === 0x44) return responseInfo && alarmsCustomByte(responseInfo) === 0x14 ? 'seplos' : 'pylontech';
  return header.address === 0 ? 'seplos' : 'pylontech';
}

/** Decode a reply. Never throws: damage and refusals come back as `ok: false` with a reason. */
export function decodeResponse(response: string, options: DecodeOptions = {}): DecodeResult {
  const forced = options.dialect && options.dialect !== 'auto' ? options.dialect : undefined;
  let request: Frame | undefined;
  if (options.request !== undefined) {
    try {
      request = parseRequest(options.request);
    } catch (err) {
      return failure(err, 'request: ');
    }
  }
  const text = frameText(response);
  if (request && options.request !== undefined && isEcho(frameText(options.request), text)) {
    const header = readableHeader(text);
    return {
      ok: false,
      error: 'echo',
      message: 'the reply is our own request (RS485 echo or loopback)',
      ...header,
      dialect: forced ?? resolveDialect(request, request.cid2),
      command: commandKind(request.cid2),
      data: {},
    };
  }

  let frame: Frame;
  try {
    frame = parseFrame(text);
  } catch (err) {
    const header = readableHeader(text);
    if (!header) return failure(err);
    const cid2 = request?.cid2;
    return {
      ...failure(err, '', false),
      ...header,
      dialect:
        forced ??
        resolveDialect(
          request ?? { version: header.version ?? 0, address: header.address ?? 0, cid1: header.cid1 ?? 0 },
          cid2,
        ),
      ...(cid2 !== undefined ? { command: commandKind(cid2) } : {}),
      data: {},
    };
  }

  const header = { version: frame.version, address: frame.address, cid1: frame.cid1, rtn: frame.cid2 };
  const dialect = forced ?? resolveDialect(request ?? frame, request?.cid2, frame.info);
  if (!forced && frame.cid2 === 0 && !SPOKEN_VERSIONS.has(frame.version) && request?.cid2 !== PROTOCOL_VERSION_CID2) {
    // Guessing would half-decode another protocol's data; a pack that merely claims another
    // version (docs/pitfalls.md#p-29) is decoded when its dialect is given.
    const command = request ? commandKind(request.cid2) : undefined;
    return {
      ok: false,
      error: 'unsupported',
      ...header,
      dialect,
      ...(command ? { command } : {}),
      data: {},
      message: `unsupported dialect: the reply speaks protocol version 0x${hex2(frame.version)}, not ${[...SPOKEN_VERSIONS].map((v) => `0x${hex2(v)}`).join(' or ')}; give the dialect if the pack only claims that version`,
    };
  }
  if (frame.cid2 !== 0) {
    const command = request ? commandKind(request.cid2) : undefined;
    return {
      ok: false,
      message: rtnError(frame.cid2).message,
      ...header,
      dialect,
      ...(command ? { command } : {}),
      data: {},
    };
  }
  if (!request) return inferCommand(frame, dialect, header);

  const spec = findCommand(dialect, request.cid2);
  const command = commandKind(request.cid2);
  if (!spec) {
    return {
      ok: true,
      note: `no ${dialect} decoder for this command: INFO left as hex`,
      ...header,
      dialect,
      command,
      data: { info: bytesToHex(frame.info) },
    };
  }
  try {
    const params = spec.request.decode(request.info, {
      dialect,
      version: request.version,
      address: request.address,
      request: {},
    });
    const data = spec.response.decode(frame.info, {
      dialect,
      version: frame.version,
      address: frame.address,
      request: params,
    });
    return { ok: true, ...header, dialect, command, data };
  } catch (err) {
    return { ...failure(err, '', false), ...header, dialect, command, data: {} };
  }
}

/**
 * A poller sends the same few requests over and over; their parsed frames are kept (frames are
 * never mutated after parsing) so a reply costs one parse, not two.
 */
const requestCache = new Map<string, Frame>();

function parseRequest(text: string): Frame {
  const cached = requestCache.get(text);
  if (cached) return cached;
  const frame = parseFrame(text);
  if (requestCache.size >= 256) requestCache.clear();
  requestCache.set(text, frame);
  return frame;
}

function failure(err: unknown, prefix = '', withData = true): DecodeResult {
  if (!isFrameError(err)) throw err;
  const result = { ok: false, error: errorName(err.kind), message: prefix + err.message };
  return withData ? { ...result, data: {} } : (result as DecodeResult);
}

/**
 * Without the request the command is unknown: try the realtime layouts and keep the first one whose
 * values are physically plausible; otherwise return the INFO as hex.
 */
function inferCommand(
  frame: Frame,
  dialect: Dialect,
  header: Pick<DecodeResult, 'version' | 'address' | 'cid1' | 'rtn'>,
): DecodeResult {
  const second = frame.info[1];
  // A one-pack reply echoes the pack it answers (EG4 names it by address only).
  const pack = dialect === 'eg4' ? frame.address : (second ?? 1);
  const guesses: { cid2: number; params: Fields }[] = [];
  if (second !== undefined && second > 1 && dialect !== 'eg4') {
    guesses.push({ cid2: 0x42, params: { pack: 0xff } }, { cid2: 0x44, params: { pack: 0xff } });
  }
  guesses.push({ cid2: 0x42, params: { pack } }, { cid2: 0x44, params: { pack } });
  for (const { cid2, params } of guesses) {
    const spec = findCommand(dialect, cid2);
    if (!spec) continue;
    try {
      const data = spec.response.decode(frame.info, {
        dialect,
        version: frame.version,
        address: frame.address,
        request: params,
      });
      if (!plausible(cid2, data)) continue;
      const scope = params.pack === 0xff ? 'all packs' : 'one pack';
      return {
        ok: true,
        note: `no request given: decoded as ${spec.name} (${scope}), inferred from the reply`,
        ...header,
        dialect,
        command: spec.kind,
        data,
      };
    } catch (err) {
      if (!isFrameError(err)) throw err;
    }
  }
  const note =
    frame.info.length === 0
      ? 'no request given: empty reply (a write acknowledgement or end of data)'
      : 'no request given and the reply matches no realtime layout: INFO left as hex';
  return {
    ok: true,
    note,
    ...header,
    dialect,
    command: 'other',
    data: frame.info.length ? { info: bytesToHex(frame.info) } : {},
  };
}

function plausible(cid2: number, data: Fields): boolean {
  const packs = data.packs;
  if (!Array.isArray(packs) || packs.length === 0) return false;
  return packs.every((p: unknown) => {
    const pack = p as { cellVoltages?: number[]; voltage?: number; online?: boolean; balancingCells?: number[] };
    if (cid2 === 0x44) return Array.isArray(pack.balancingCells);
    if (pack.online === false) return true;
    const cells = pack.cellVoltages ?? [];
    const sum = cells.reduce((a, b) => a + b, 0);
    return (
      cells.length >= 4 &&
      cells.length <= 32 &&
      cells.every((v) => v >= 1 && v <= 5) &&
      Math.abs(sum - (pack.voltage ?? 0)) <= 0.1 * sum
    );
  });
}

export interface ResponseOptions extends FrameHeaderOptions {
  readonly address: number;
  /** Parameters of the request being answered (e.g. `{ pack: 255 }` for all packs). */
  readonly request?: Fields;
  /** Layout choices for the reply (PACE tail length, cell/temperature counts …). */
  readonly options?: Fields;
}

/** Build a reply frame (the BMS side, for the simulator). */
export function encodeResponse(command: string, data: Fields, options: ResponseOptions): string {
  const spec = requireCommand(options.dialect, command);
  const profile = DIALECT_PROFILES[options.dialect];
  checkByte(options.address, 'address');
  // 0x4F carries its answer in the header VER byte.
  const version =
    options.version ?? (typeof data.protocolVersion === 'number' ? data.protocolVersion : profile.version);
  const ctx = {
    dialect: options.dialect,
    version,
    address: options.address,
    request: options.request ?? {},
    ...(options.options ? { options: options.options } : {}),
  };
  const info = spec.response.encode(data, ctx);
  return encodeFrame({ version, address: options.address, cid1: options.cid1 ?? profile.cid1, cid2: 0, info });
}

/** A refusal or error reply with the given RTN and empty INFO. */
export function encodeErrorResponse(rtn: number, options: FrameHeaderOptions & { readonly address: number }): string {
  if (rtn === 0) throw new FrameError('range', 'an error reply needs a non-zero RTN');
  checkByte(rtn, 'rtn');
  const profile = DIALECT_PROFILES[options.dialect];
  return encodeFrame({
    version: options.version ?? profile.version,
    address: options.address,
    cid1: options.cid1 ?? profile.cid1,
    cid2: rtn,
    info: new Uint8Array(0),
  });
}
