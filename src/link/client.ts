import {
  ALL_PACKS, DIALECT_PROFILES, FrameError, decodeResponse, encodeRequest, findCommand, parseFrame,
  type DecodeResult, type Dialect, type Fields, type Frame,
} from '../protocol';
import { defaultAccept, type BmsLink, type Priority, type Reply } from './link';

export interface ClientOptions {
  readonly dialect: Dialect;
  /** VER / CID1 the packs claim, when they differ from the dialect's (PITFALLS.md P-29). */
  readonly version?: number;
  readonly cid1?: number;
  /** Extra wait per pack for "all packs" requests: the master polls its slaves before answering. */
  readonly broadcastPerPackMs?: number;
}

export interface CallOptions {
  readonly address?: number;
  readonly priority?: Priority;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** Packs expected in an "all packs" reply (for its timeout). */
  readonly expectedPacks?: number;
}

export interface CallResult {
  readonly result: DecodeResult & { readonly ok: true };
  readonly data: Fields;
  readonly reply: Reply;
  readonly request: string;
}

/**
 * Typed requests over a link: encode, send, decode. A reply that does not decode as the command
 * asked for (a late answer to another request, a different device) is not accepted and the wait goes
 * on; a refusal (RTN ≠ 0) is an answer and becomes a `FrameError` of kind `rtn`.
 */
export class BmsClient {
  constructor(readonly link: BmsLink, readonly options: ClientOptions) {}

  get dialect(): Dialect {
    return this.options.dialect;
  }

  async call(command: string, params: Fields = {}, options: CallOptions = {}): Promise<CallResult> {
    const { dialect } = this.options;
    const request = encodeRequest(command, params, {
      dialect,
      ...(options.address !== undefined ? { address: options.address } : {}),
      ...(this.options.version !== undefined ? { version: this.options.version } : {}),
      ...(this.options.cid1 !== undefined ? { cid1: this.options.cid1 } : {}),
    });
    const spec = findCommand(dialect, command);
    const broadcast = spec?.packAddressed === true && params.pack === ALL_PACKS;
    const timeoutMs = broadcast
      ? (options.timeoutMs ?? 1000) + (this.options.broadcastPerPackMs ?? 500) * (options.expectedPacks ?? 1)
      : options.timeoutMs;
    let decoded: DecodeResult | undefined;
    const cid1 = this.options.cid1 ?? DIALECT_PROFILES[dialect].cid1;
    const fromAddressed = defaultAccept(parseFrame(request));
    const accept = (frame: Frame, text: string): boolean => {
      // A late reply from another pack decodes just as well: the address must match first.
      if (!fromAddressed(frame) && frame.cid1 === cid1) return false;
      if (frame.cid1 !== cid1 && frame.cid2 === 0) return false;
      const result = decodeResponse(text, { request, dialect });
      // Refusals are answers; structurally foreign replies are not.
      if (!result.ok && result.rtn === 0) return false;
      decoded = result;
      return true;
    };
    const reply = await this.link.request(request, {
      accept,
      ...(options.priority ? { priority: options.priority } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
    });
    const result = decoded ?? decodeResponse(reply.text, { request, dialect });
    if (!result.ok) {
      throw new FrameError(result.rtn ? 'rtn' : (result.error ?? 'format'), result.message ?? 'reply cannot be decoded', result.rtn);
    }
    return { result: result as DecodeResult & { ok: true }, data: result.data, reply, request };
  }
}

/** Call options that address one pack, or none (the default address). */
export function addressed(address: number | undefined): { address?: number } {
  return address !== undefined ? { address } : {};
}

/** A PACE pack's BMS serial (0xC2); null when it reports none. */
export async function readSerial(client: BmsClient, address?: number): Promise<string | null> {
  const { data } = await client.call('serial', {}, { priority: 'interactive', ...addressed(address) });
  return typeof data.bmsSerial === 'string' && data.bmsSerial ? data.bmsSerial : null;
}
