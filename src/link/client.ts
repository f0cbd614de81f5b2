import {
  ALL_PACKS,
  DIALECT_PROFILES,
  FrameError,
  decodeResponse,
  encodeRequest,
  findCommand,
  parseFrame,
  type AlarmsData,
  type AnalogData,
  type CommandSpec,
  type DecodeResult,
  type Dialect,
  type Fields,
  type Frame,
  type ParameterSet,
} from '../protocol';
import { ModbusClient } from './modbus-client';
import { defaultAccept, type BmsLink, type LinkSession, type Priority, type Reply, type SyncRequest } from './link';

export interface ClientOptions {
  readonly dialect: Dialect;
  /** VER / CID1 the packs claim, when they differ from the dialect's (docs/pitfalls.md#p-29). */
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
  /** Abandon the call (see `RequestOptions.signal`). */
  readonly signal?: AbortSignal;
}

/**
 * What each command's reply decodes to (docs/payloads.md#data): the one place the decoder's
 * generic fields are given their types, so callers read them without casts. Fields a firmware may
 * leave out are optional.
 */
export interface CommandData {
  readonly analog: AnalogData;
  readonly alarms: AlarmsData;
  readonly packCount: { readonly packCount: number };
  readonly version: {
    readonly version?: string;
    readonly bluetoothName?: string;
    readonly manufacturerVersion?: string;
    readonly mainlineVersion?: string;
  };
  readonly serial: { readonly bmsSerial?: string; readonly packSerial?: string; readonly serial?: string };
  readonly manufacturer: {
    readonly deviceName?: string;
    readonly softwareVersion?: string;
    readonly manufacturer?: string;
  };
  readonly chargeLimits: {
    readonly chargeVoltage?: number;
    readonly dischargeVoltage?: number;
    readonly chargeCurrent?: number;
    readonly dischargeCurrent?: number;
    readonly chargeEnabled?: boolean;
    readonly dischargeEnabled?: boolean;
  };
  /** Empty past the last record. */
  readonly history: Fields & { readonly time?: string };
  readonly readClock: { readonly time: string };
  readonly readCapacity: { readonly remainingAh: number; readonly fullAh: number; readonly designAh: number };
  readonly readInverterProtocol: {
    readonly canProtocol: number;
    readonly rs485Protocol: number;
    readonly manual: boolean;
  };
  readonly readStorageInterval: { readonly interval: number };
  /** Every parameter group at once (PACE Modbus: one read of registers 60–114). */
  readonly readParameters: ParameterSet;
}

/** The data of a command's reply: typed for the commands of `CommandData`, generic fields otherwise. */
export type DataOf<C extends string> = C extends keyof CommandData ? CommandData[C] : Fields;

/** The protocols a bank may speak: the ASCII dialects, and PACE Modbus. */
export type BankProtocol = Dialect | 'pace-modbus';

/** A command's answer as the poller reads it, whatever the protocol. */
export interface PollResult<D> {
  readonly data: D;
  /** The pack flags an alarm change not read yet (INFOFLAG bit 0 of the ASCII protocols). */
  readonly alarmsChanged: boolean;
}

/**
 * What the poller needs of a client: reads by command name, answered with the canonical payloads
 * (docs/payloads.md#data). The ASCII `BmsClient` and the PACE Modbus client are both one.
 */
export interface PollClient {
  readonly dialect: BankProtocol;
  call<C extends string>(command: C, params?: Fields, options?: CallOptions): Promise<PollResult<DataOf<C>>>;
}

/**
 * What a parameter job needs of a client (src/link/params.ts): reads and writes by command name,
 * and the bus to itself for a whole job on one pack.
 */
export interface ParameterClient extends PollClient {
  exclusive<T>(fn: (client: ParameterClient, session: LinkSession) => Promise<T>): Promise<T>;
}

export interface CallResult<D = Fields> extends PollResult<D> {
  readonly result: DecodeResult & { readonly ok: true };
  readonly reply: Reply;
  readonly request: string;
}

/**
 * Commands sent to prove the bus is back in step after a timeout, per dialect, in the order tried:
 * small replies first, the analog read of the pack as the last resort.
 */
const SYNC_COMMANDS: Readonly<Record<Dialect, readonly string[]>> = {
  pace: ['packCount', 'analog'],
  pylontech: ['protocolVersion', 'analog'],
  seplos: ['protocolVersion', 'analog'],
  eg4: ['manufacturer', 'analog'],
};

/**
 * Typed requests over a link: encode, send, decode. A reply that does not decode as the command
 * asked for (a late answer to another request, a different device) is not accepted and the wait goes
 * on; a refusal (RTN ≠ 0) is an answer and becomes a `FrameError` of kind `rtn`.
 */
export class BmsClient implements ParameterClient {
  private readonly syncs = new Map<number, readonly SyncRequest[]>();

  constructor(
    readonly link: BmsLink,
    readonly options: ClientOptions,
    readonly session?: LinkSession,
  ) {}

  get dialect(): Dialect {
    return this.options.dialect;
  }

  /** This client's requests with the bus to themselves (see `BmsLink.exclusive`). */
  exclusive<T>(fn: (client: BmsClient, session: LinkSession) => Promise<T>): Promise<T> {
    if (this.session) return fn(this, this.session);
    return this.link.exclusive((session) => fn(new BmsClient(this.link, this.options, session), session));
  }

  async call<C extends string>(
    command: C,
    params: Fields = {},
    options: CallOptions = {},
  ): Promise<CallResult<DataOf<C>>> {
    const { dialect } = this.options;
    const spec = findCommand(dialect, command);
    if (!spec) throw new FrameError('unsupported', `${dialect} has no command "${command}"`);
    const request = this.encode(command, params, options.address);
    const broadcast = spec.packAddressed === true && params.pack === ALL_PACKS;
    const timeoutMs = broadcast
      ? (options.timeoutMs ?? 1000) + (this.options.broadcastPerPackMs ?? 500) * (options.expectedPacks ?? 1)
      : options.timeoutMs;
    let decoded: DecodeResult | undefined;
    const frame = parseFrame(request);
    const reply = await this.link.request(request, {
      accept: this.acceptor(request, frame, (result) => {
        decoded = result;
      }),
      shape: spec.replyShape,
      sync: this.syncFor(frame.address),
      ...(this.session ? { session: this.session } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.priority ? { priority: options.priority } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
    });
    const result = decoded ?? decodeResponse(reply.text, { request, dialect });
    if (!result.ok) {
      throw new FrameError(
        result.rtn ? 'rtn' : (result.error ?? 'format'),
        result.message ?? 'reply cannot be decoded',
        result.rtn,
      );
    }
    // The decoder's contract (docs/payloads.md, checked against the captured frames) is what makes this cast true.
    return {
      result: result as DecodeResult & { ok: true },
      data: result.data as DataOf<C>,
      alarmsChanged: ((reply.frame.info[0] ?? 0) & 0x01) === 0x01,
      reply,
      request,
    };
  }

  private encode(command: string, params: Fields, address: number | undefined): string {
    return encodeRequest(command, params, {
      dialect: this.options.dialect,
      ...(address !== undefined ? { address } : {}),
      ...(this.options.version !== undefined ? { version: this.options.version } : {}),
      ...(this.options.cid1 !== undefined ? { cid1: this.options.cid1 } : {}),
    });
  }

  /**
   * Whether a reply answers `request`: from the addressed pack, and decoding exactly as the command
   * asked (layout, length, the pack it names). Refusals are answers; structurally foreign replies are not.
   */
  private acceptor(
    request: string,
    requestFrame: Frame,
    keep: (result: DecodeResult) => void,
  ): (frame: Frame, text: string) => boolean {
    const { dialect } = this.options;
    const cid1 = this.options.cid1 ?? DIALECT_PROFILES[dialect].cid1;
    const fromAddressed = defaultAccept(requestFrame);
    return (frame, text) => {
      // A late reply from another pack decodes just as well: the address must match first.
      if (!fromAddressed(frame) && frame.cid1 === cid1) return false;
      if (frame.cid1 !== cid1 && frame.cid2 === 0) return false;
      const result = decodeResponse(text, { request, dialect });
      if (!result.ok && result.rtn === 0) return false;
      keep(result);
      return true;
    };
  }

  /** Sync candidates for requests to `address` (see `SYNC_COMMANDS`). */
  private syncFor(address: number): readonly SyncRequest[] {
    let list = this.syncs.get(address);
    if (!list) {
      const { dialect } = this.options;
      list = SYNC_COMMANDS[dialect].flatMap((command) => {
        const spec = findCommand(dialect, command) as CommandSpec;
        const params: Fields = spec.packAddressed ? { pack: packAt(dialect, address) } : {};
        const text = this.encode(command, params, address);
        return [{ text, shape: spec.replyShape, accept: this.acceptor(text, parseFrame(text), () => undefined) }];
      });
      this.syncs.set(address, list);
    }
    return list;
  }
}

/** The pack a request at `address` is about: the address itself, or the master for the "any" addresses. */
function packAt(dialect: Dialect, address: number): number {
  if (address === 0x00 || address === 0xff)
    return dialect === 'pylontech' ? DIALECT_PROFILES.pylontech.masterAddress : 1;
  return address;
}

/** Call options that address one pack, or none (the default address). */
export function addressed(address: number | undefined): { address?: number } {
  return address !== undefined ? { address } : {};
}

/** A PACE pack's BMS serial (0xC2); null when it reports none. */
export async function readSerial(client: PollClient, address?: number): Promise<string | null> {
  const { data } = await client.call('serial', {}, { priority: 'interactive', ...addressed(address) });
  return data.bmsSerial ? data.bmsSerial : null;
}

/** A client for a bank as detection found it: its protocol and the VER / CID1 its packs claim. */
export function clientFor(
  link: BmsLink,
  detection: { readonly dialect: BankProtocol; readonly version: number; readonly cid1: number },
): BmsClient | ModbusClient {
  if (detection.dialect === 'pace-modbus') return new ModbusClient(link);
  return new BmsClient(link, { dialect: detection.dialect, version: detection.version, cid1: detection.cid1 });
}
