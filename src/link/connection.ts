import { EventEmitter } from 'node:events';
import { ModbusClient } from './modbus-client';
import { detectModbus } from './modbus-detect';
import { BmsClient, type BankProtocol } from './client';
import { detect, type BankMode, type Detection } from './detect';
import { buildDiagnosis, type DiagnosisBundle } from './diagnose';
import { LinkError, asError, errorMessage } from './errors';
import { isMissingPort, listSerialPorts } from './ports';
import { BmsLink } from './link';
import { BankPoller, type BankCycle, type PackReading } from './poller';
import type { WireEvent } from './trace';
import { fillPlaceholders } from '../placeholders';

export interface ConnectionOptions {
  readonly port: string;
  readonly baudRate?: number;
  readonly dialect?: BankProtocol | 'auto';
  readonly mode?: BankMode | 'auto';
  /** Pack numbers (broadcast) or addresses (relay); 'discover' asks the bank. */
  readonly packs?: readonly number[] | 'discover';
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly gapMs?: number;
}

export type ConnectionPhase = 'idle' | 'connecting' | 'detecting' | 'polling' | 'error' | 'stopped';

/** What the connection is doing, as a key a node turns into its own words (see `SITUATION_TEXTS`). */
export type ConnectionSituation = keyof typeof SITUATION_TEXTS;

/** The situations in English (`__name__` filled from the state's `vars`), for logs and the CLI. */
export const SITUATION_TEXTS = {
  idle: 'idle',
  connecting: 'connecting',
  stopped: 'stopped',
  detecting: 'detecting',
  foundPack: '__dialect__, 1 pack',
  foundPacks: '__dialect__, __packs__ packs',
  packsOnline: '__online__/__packs__ packs',
  connected: 'connected',
  portNotFound: 'port not found',
  noBank: 'no bank found',
  disconnected: 'disconnected',
  portError: 'port error',
} as const;

/** The values a situation's text is filled with. */
export type SituationVars = { readonly dialect?: string; readonly online?: number; readonly packs?: number };

export interface ConnectionState {
  readonly phase: ConnectionPhase;
  readonly situation: ConnectionSituation;
  readonly vars?: SituationVars;
  /** Short, for a node status: the situation in English. */
  readonly text: string;
  readonly error?: string;
}

function stateOf(
  phase: ConnectionPhase,
  situation: ConnectionSituation,
  vars?: SituationVars,
  error?: string,
): ConnectionState {
  const text = fillPlaceholders(SITUATION_TEXTS[situation], vars ?? {});
  return { phase, situation, ...(vars ? { vars } : {}), text, ...(error !== undefined ? { error } : {}) };
}

/**
 * A bank behind one port, for as long as anyone uses it: the shared link, detection when the
 * dialect or the packs are not given, and the poller. Emits `state`, `cycle`, `pack` and `packs`
 * (`{ added, packs }` when the master starts reporting more packs: they are polled from then on).
 */
/** What a connection tells its users. */
export interface ConnectionEvents {
  state: [ConnectionState];
  cycle: [BankCycle];
  pack: [PackReading];
  packs: [{ added: number[]; packs: number[] }];
  error: [Error];
  wire: [WireEvent];
}

export class BankConnection extends EventEmitter<ConnectionEvents> {
  private link: BmsLink | undefined;
  private poller: BankPoller | undefined;
  private bankClient: BmsClient | ModbusClient | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  /** Aborted by stop(): detection in progress is abandoned. */
  private abort = new AbortController();
  private current: ConnectionState = stateOf('idle', 'idle');
  /** What detection found, when it ran. */
  private found: Detection | undefined;

  constructor(readonly options: ConnectionOptions) {
    super();
    this.on('error', () => undefined);
  }

  get state(): ConnectionState {
    return this.current;
  }

  start(): void {
    if (this.link) return;
    this.abort = new AbortController();
    const options = this.options;
    this.link = BmsLink.acquire({
      port: options.port,
      ...(options.baudRate !== undefined ? { baudRate: options.baudRate } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.gapMs !== undefined ? { gapMs: options.gapMs } : {}),
    });
    const link = this.link;
    link.on('disconnected', this.onDisconnected);
    link.on('error', this.onLinkError);
    link.on('connected', this.onConnected);
    link.on('wire', this.onWire);
    this.setState(stateOf('connecting', 'connecting'));
    this.starting = this.setUp(link);
  }

  /**
   * Stop polling and release the port, at once whatever the bank is doing: detection and the poll
   * in progress are abandoned. Resolves when the port is free (or left to its other users).
   */
  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const link = this.link;
    this.link = undefined;
    this.abort.abort();
    await this.starting?.catch(() => undefined);
    const poller = this.poller;
    this.poller = undefined;
    this.bankClient = undefined;
    if (poller) {
      poller.removeAllListeners();
      await poller.stop();
    }
    if (link) {
      link.off('disconnected', this.onDisconnected);
      link.off('error', this.onLinkError);
      link.off('connected', this.onConnected);
      link.off('wire', this.onWire);
      await link.release();
    }
    this.setState(stateOf('stopped', 'stopped'));
  }

  /** Read the bank now (an input message asked for it). */
  async pollNow(): Promise<BankCycle> {
    await this.starting;
    if (!this.poller)
      throw new Error(
        this.current.error ?? `the bank on ${this.options.port} is not being polled (${this.current.text})`,
      );
    return this.poller.pollNow();
  }

  /**
   * The detected bank's client, for commands beside polling (parameters, history, switches): the
   * ASCII client, or the PACE Modbus one (its `dialect` says which).
   */
  async client(): Promise<BmsClient | ModbusClient> {
    await this.starting;
    if (!this.bankClient)
      throw new Error(this.current.error ?? `the bank on ${this.options.port} is not connected (${this.current.text})`);
    return this.bankClient;
  }

  /**
   * The bank as it is polled now, for a bug report: `cycles` reads (not waiting for the interval),
   * every frame they moved, the link's counters and what detection found (see `buildDiagnosis`).
   */
  async diagnose(cycles = 3, anonymise = true): Promise<DiagnosisBundle> {
    const events: WireEvent[] = [];
    const record = (e: WireEvent): void => {
      events.push(e);
    };
    // A read in progress would be recorded from its middle: let it end first (reads join a running one).
    await this.pollNow().catch(() => undefined);
    this.on('wire', record);
    try {
      for (let i = 0; i < cycles; i++) await this.pollNow();
    } finally {
      this.off('wire', record);
    }
    return buildDiagnosis({
      tool: 'bms-link',
      port: this.options.port,
      baudRate: this.options.baudRate ?? 9600,
      detection: this.found ?? null,
      silentAt: [],
      events,
      linkStats: this.link ? { ...this.link.stats } : null,
      anonymise,
    });
  }

  readings(): PackReading[] {
    return this.poller?.readings() ?? [];
  }

  private async setUp(link: BmsLink): Promise<void> {
    const options = this.options;
    try {
      let dialect: BankProtocol | undefined =
        options.dialect && options.dialect !== 'auto' ? options.dialect : undefined;
      // PACE Modbus packs answer only for themselves: always pack by pack.
      let mode: BankMode | undefined =
        dialect === 'pace-modbus' ? 'relay' : options.mode && options.mode !== 'auto' ? options.mode : undefined;
      let packs: readonly number[] | undefined = options.packs === 'discover' ? undefined : options.packs;
      let version: number | undefined;
      let cid1: number | undefined;
      if (dialect === 'pace-modbus' && !packs) {
        this.setState(stateOf('detecting', 'detecting'));
        const found = await detectModbus(
          link,
          Array.from({ length: 15 }, (_, i) => i + 1),
          {
            signal: this.abort.signal,
          },
        );
        if (!found)
          throw new LinkError('timeout', `no PACE Modbus pack answered at addresses 1 to 15 on ${options.port}`);
        packs = found.packs;
      } else if (!dialect || !mode || !packs) {
        this.setState(stateOf('detecting', 'detecting'));
        const found = await detect(link, { signal: this.abort.signal });
        this.found = found;
        dialect ??= found.dialect;
        mode ??= found.mode;
        // Slots the master reports unreachable are still packs of the bank: poll them, show them offline.
        packs ??= [...found.packs, ...found.offlinePacks].sort((a, b) => a - b);
        version = found.version;
        cid1 = found.cid1;
      }
      if (this.link !== link) return;
      if (!mode) throw new LinkError('config', `the bank on ${options.port} could not be described`);
      const client =
        dialect === 'pace-modbus'
          ? new ModbusClient(link)
          : new BmsClient(link, {
              dialect,
              ...(version !== undefined ? { version } : {}),
              ...(cid1 !== undefined ? { cid1 } : {}),
            });
      this.bankClient = client;
      const poller = new BankPoller(client, {
        mode,
        packs,
        ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
      });
      this.poller = poller;
      poller.on('cycle', (cycle: BankCycle) => {
        const online = cycle.packs.filter((p) => p.online).length;
        if (link.state === 'connected')
          this.setState(stateOf('polling', 'packsOnline', { online, packs: cycle.packs.length }));
        this.emit('cycle', cycle);
      });
      poller.on('pack', (reading: PackReading) => this.emit('pack', reading));
      poller.on('packs', (change: { added: number[]; packs: number[] }) => this.emit('packs', change));
      poller.start();
      this.setState(
        stateOf('polling', packs.length === 1 ? 'foundPack' : 'foundPacks', { dialect, packs: packs.length }),
      );
    } catch (err) {
      if (this.link !== link) return;
      // A device that does not exist is not "no bank": say so, and which ports there are.
      const missing = isMissingPort(err);
      const message = missing
        ? `${options.port} does not exist; serial ports here: ${(await listSerialPorts()).join(', ') || 'none'}`
        : errorMessage(err);
      if (this.link !== link) return;
      this.setState(stateOf('error', missing ? 'portNotFound' : 'noBank', undefined, message));
      this.emit('error', missing ? new LinkError('open-failed', message) : asError(err));
      // Try again later: the bank may be asleep or the cable being plugged in.
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          if (this.link === link) this.starting = this.setUp(link);
        },
        Math.max(5000, options.intervalMs ?? 5000),
      );
    }
  }

  private readonly onDisconnected = (err: Error): void => {
    this.setState(stateOf('error', 'disconnected', undefined, err.message));
  };

  private readonly onLinkError = (err: Error): void => {
    this.setState(stateOf('error', isMissingPort(err) ? 'portNotFound' : 'portError', undefined, err.message));
  };

  /** Every frame on the wire (see `WireEvent`), for capture and trace logs. */
  private readonly onWire = (event: WireEvent): void => {
    this.emit('wire', event);
  };

  private readonly onConnected = (): void => {
    if (this.poller) this.setState(stateOf('polling', 'connected'));
  };

  private setState(state: ConnectionState): void {
    this.current = state;
    this.emit('state', state);
  }
}
