/**
 * Why a frame could not be used. `format`/`length`/`lchksum`/`checksum` are transport damage,
 * `rtn` is the BMS saying no, `dialect`/`layout` mean the bytes are intact but do not fit the
 * command layout we expected, `range` is a value that cannot be encoded, `echo` is our own request.
 */
export type FrameErrorKind =
  'format' | 'length' | 'lchksum' | 'checksum' | 'rtn' | 'dialect' | 'layout' | 'range' | 'echo' | 'unsupported';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly kind: FrameErrorKind;
  /** RTN byte of the response, for `kind === 'rtn'`. */
  readonly rtn: number | undefined;

  constructor(kind: FrameErrorKind, message: string, rtn?: number) {
    super(message);
    this.kind = kind;
    this.rtn = rtn;
  }
}

export function isFrameError(err: unknown): err is FrameError {
  return err instanceof FrameError;
}

/** RTN codes across PACE, Pylontech, Seplos and EG4 (docs/protocol.md#return-codes). */
const RTN_NAMES: Readonly<Record<number, string>> = {
  0x01: 'protocol version error',
  0x02: 'checksum error reported by the BMS',
  0x03: 'length checksum error reported by the BMS',
  0x04: 'command not supported',
  0x05: 'command format error',
  0x06: 'invalid data',
  0x07: 'no data',
  0x09: 'refused by the BMS',
  0x90: 'address error',
  0x91: 'internal communication error',
  0xe1: 'CID1 invalid',
  0xe2: 'command execution failure',
  0xe3: 'device fault',
  0xe4: 'invalid permission',
};

export function rtnName(rtn: number): string {
  return RTN_NAMES[rtn] ?? 'unknown return code';
}

export function rtnError(rtn: number): FrameError {
  return new FrameError('rtn', `RTN ${hex2(rtn)}: ${rtnName(rtn)}`, rtn);
}

export function hex2(value: number): string {
  return value.toString(16).toUpperCase().padStart(2, '0');
}
