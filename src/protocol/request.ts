import { findCommand, type CommandSpec } from './commands';
import type { Fields } from './codec';
import { ALL_PACKS, DIALECT_PROFILES, type CommandKind, type Dialect } from './dialect';
import { FrameError, hex2 } from './errors';
import { encodeFrame, parseFrame, type Frame } from './frame';

export interface FrameHeaderOptions {
  readonly dialect: Dialect;
  readonly address?: number;
  /** VER to send instead of the dialect's own, for packs that claim another version (docs/pitfalls.md#p-29). */
  readonly version?: number;
  readonly cid1?: number;
}

/** A request as the BMS side sees it (used by the simulator). */
export interface DecodedRequest {
  readonly dialect: Dialect;
  readonly command: string;
  readonly kind: CommandKind;
  readonly cid2: number;
  readonly version: number;
  readonly address: number;
  readonly cid1: number;
  readonly params: Fields;
  readonly frame: Frame;
}

export function requireCommand(dialect: Dialect, nameOrCid2: string | number): CommandSpec {
  const spec = findCommand(dialect, nameOrCid2);
  if (!spec) {
    const what = typeof nameOrCid2 === 'number' ? `CID2 ${hex2(nameOrCid2)}` : `"${nameOrCid2}"`;
    throw new FrameError('unsupported', `${what} is not a ${dialect} command`);
  }
  return spec;
}

/** Build a request frame (text without CR). */
export function encodeRequest(command: string, params: Fields, options: FrameHeaderOptions): string {
  const spec = requireCommand(options.dialect, command);
  const profile = DIALECT_PROFILES[options.dialect];
  const address = options.address ?? defaultAddress(spec, params, options.dialect);
  checkByte(address, 'address');
  const ctx = { dialect: options.dialect, version: options.version ?? profile.version, address, request: params };
  const info = spec.request.encode(params, ctx);
  return encodeFrame({ version: ctx.version, address, cid1: options.cid1 ?? profile.cid1, cid2: spec.cid2, info });
}

function defaultAddress(spec: CommandSpec, params: Fields, dialect: Dialect): number {
  const profile = DIALECT_PROFILES[dialect];
  if (!spec.packAddressed || typeof params.pack !== 'number') return profile.defaultAddress;
  return params.pack === ALL_PACKS ? profile.masterAddress : params.pack;
}

export function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new FrameError('range', `${what} must be 0..255`);
}

/** Decode a request frame for a BMS of the given dialect. */
export function decodeRequest(text: string, dialect: Dialect): DecodedRequest {
  const frame = parseFrame(text);
  const spec = requireCommand(dialect, frame.cid2);
  const params = spec.request.decode(frame.info, {
    dialect,
    version: frame.version,
    address: frame.address,
    request: {},
  });
  return {
    dialect,
    command: spec.name,
    kind: spec.kind,
    cid2: spec.cid2,
    version: frame.version,
    address: frame.address,
    cid1: frame.cid1,
    params,
    frame,
  };
}
