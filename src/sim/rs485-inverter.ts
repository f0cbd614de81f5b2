import type net from 'node:net';
import { FrameStreamParser, encodeFrame } from '../protocol';
import { StreamEndpoint, type SimEndpoints } from './endpoint';

export interface Rs485InverterSimOptions {
  /** Serve on a pseudo-terminal (the inverter's RS485 port as the bank's adapter sees it). */
  readonly pty?: string | boolean;
  readonly port?: number;
  /** How long the inverter waits for a reply, ms (default 1000). */
  readonly replyTimeoutMs?: number;
}

/** A poll and its answer. */
export interface InverterExchange {
  readonly request: string;
  /** The reply frame without CR; null: none within the timeout. */
  readonly reply: string | null;
}

/**
 * An inverter polling a Pylontech battery over RS485, as the battery's port sees it: it asks
 * (`ask`, or `pollEvery` with a sequence like an SRNE's 0x61 / 0x62 / 0x63) and records what comes
 * back. Only one request is out at a time, as on a real RS485 line.
 */
export class Rs485InverterSim {
  readonly exchanges: InverterExchange[] = [];
  private readonly endpoint: StreamEndpoint;
  private socket: net.Socket | undefined;
  private readonly parser = new FrameStreamParser();
  private waiting: ((reply: string | null) => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: Rs485InverterSimOptions = {}) {
    this.endpoint = new StreamEndpoint(
      {
        name: 'lfp-bms-rs485-inverter',
        ...(options.pty !== undefined ? { pty: options.pty } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
      },
      (socket) => {
        this.serve(socket);
      },
    );
  }

  get endpoints(): SimEndpoints {
    return this.endpoint.endpoints;
  }

  start(): Promise<SimEndpoints> {
    return this.endpoint.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.pollTimer);
    this.waiting?.(null);
    await this.endpoint.stop();
  }

  /** The port vanishes and is back after `ms`. */
  async unplug(ms: number): Promise<void> {
    await this.endpoint.stop();
    await new Promise<void>((resolve) => setTimeout(resolve, ms));
    await this.endpoint.restart();
  }

  /** Sends one request (VER 0x20, CID1 0x46) and resolves with the reply text or null. */
  ask(cid2: number, info: readonly number[] = [], address = 0x02, version = 0x20): Promise<string | null> {
    const request = encodeFrame({ version, address, cid1: 0x46, cid2, info: Uint8Array.from(info) });
    const next = this.chain.then(() => this.exchange(request));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Asks `sequence` (cid2, info) every `ms`, like an inverter's poll loop. */
  pollEvery(ms: number, sequence: readonly (readonly [number, readonly number[]])[], address = 0x02): void {
    clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => {
      for (const [cid2, info] of sequence) void this.ask(cid2, info, address);
    }, ms);
  }

  private exchange(request: string): Promise<string | null> {
    const socket = this.socket;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.exchanges.push({ request, reply: null });
        resolve(null);
      }, this.options.replyTimeoutMs ?? 1000);
      this.waiting = (reply) => {
        clearTimeout(timer);
        this.waiting = undefined;
        this.exchanges.push({ request, reply });
        resolve(reply);
      };
      if (!socket || socket.destroyed) return;
      socket.write(`${request}\r`);
    });
  }

  private serve(socket: net.Socket): void {
    this.socket = socket;
    this.parser.reset();
    socket.on('data', (data: Buffer) => {
      for (const event of this.parser.push(data)) {
        if (event.type === 'frame') this.waiting?.(event.text);
      }
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
  }
}
