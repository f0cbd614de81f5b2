import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type { CanFrame } from '../protocol/pylon-can';
import { encodeSlcanFrame } from '../protocol/slcan';
import { StreamEndpoint, type SimEndpoints } from './endpoint';
import { TimerSet } from './timers';

export interface CanInverterSimOptions {
  /** Serve on a pseudo-terminal (as a USB slcan adapter appears), at this path or a temporary one. */
  readonly pty?: string | boolean;
  readonly port?: number;
  /** The inverter's keep-alive period (default 1000 ms) and ids (default 0x305). */
  readonly keepAliveMs?: number;
  readonly keepAliveIds?: readonly number[];
  /** Like a Deye: keep-alives only once a 0x356 was heard. */
  readonly keepAliveAfter356?: boolean;
  /** What the adapter answers to a transmitted frame: CR (canable-fw), `z` (LAWICEL) or nothing (canable2-fw). */
  readonly transmitReply?: 'cr' | 'z' | 'none';
}

export interface ReceivedFrame {
  readonly at: number;
  readonly frame: CanFrame;
}

/** `tIIIL…` as the host wrote it, back to a frame (the adapter's side of slcan). */
function parseHostFrame(line: string): CanFrame | null {
  const extended = line.startsWith('T');
  const idDigits = extended ? 8 : 3;
  const id = Number.parseInt(line.slice(1, 1 + idDigits), 16);
  const dlc = Number(line.charAt(1 + idDigits));
  const hex = line.slice(2 + idDigits);
  if (!Number.isInteger(id) || !(dlc >= 0 && dlc <= 8) || !/^[0-9A-Fa-f]*$/.test(hex) || hex.length !== dlc * 2)
    return null;
  const data = Uint8Array.from({ length: dlc }, (_, i) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16));
  return extended ? { id, data, extended: true } : { id, data };
}

/**
 * A USB slcan adapter with an inverter on its bus, as the host sees it: takes `C`, `Sn`, `O`, `F`
 * and frames (refusing with BEL what a real adapter refuses: a bit rate while open, frames while
 * closed, unknown commands), records every frame the battery sends, and sends the inverter's
 * keep-alive while the channel is open. `unplug` makes the device vanish and come back.
 */
export class SlcanInverterSim extends EventEmitter {
  readonly received: ReceivedFrame[] = [];
  /** Every command line the host sent, frames excepted. */
  readonly commands: string[] = [];
  /** The inverter sends its keep-alive (switch off to model an inverter that is off or not set up). */
  keepAlive = true;
  /** Answer nothing at all, as a serial device that is not an slcan adapter. */
  mute = false;
  private channel: 'closed' | 'open' = 'closed';
  private bitrate: string | null = null;
  private heard356 = false;
  private socket: net.Socket | undefined;
  private readonly timers = new TimerSet();
  private readonly endpoint: StreamEndpoint;
  private keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CanInverterSimOptions = {}) {
    super();
    this.endpoint = new StreamEndpoint(
      {
        name: 'lfp-bms-slcan',
        ...(options.pty !== undefined ? { pty: options.pty } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
      },
      (socket) => {
        this.serve(socket);
      },
    );
  }

  get isOpen(): boolean {
    return this.channel === 'open';
  }

  get endpoints(): SimEndpoints {
    return this.endpoint.endpoints;
  }

  start(): Promise<SimEndpoints> {
    this.keepAliveTimer = setInterval(() => {
      this.sendKeepAlive();
    }, this.options.keepAliveMs ?? 1000);
    return this.endpoint.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.keepAliveTimer);
    this.timers.clear();
    await this.endpoint.stop();
  }

  /** The adapter vanishes (USB unplugged: the device node goes) and is back after `ms`, channel closed. */
  async unplug(ms: number): Promise<void> {
    await this.endpoint.stop();
    this.channel = 'closed';
    this.bitrate = null;
    await new Promise<void>((resolve) => {
      this.timers.later(resolve, ms);
    });
    await this.endpoint.restart();
  }

  /** The inverter sends a frame of its own. */
  inverterSends(frame: CanFrame): void {
    if (this.channel === 'open') this.socket?.write(encodeSlcanFrame(frame));
  }

  private sendKeepAlive(): void {
    if (!this.keepAlive || (this.options.keepAliveAfter356 && !this.heard356)) return;
    for (const id of this.options.keepAliveIds ?? [0x305]) this.inverterSends({ id, data: new Uint8Array(8) });
  }

  private serve(socket: net.Socket): void {
    this.socket = socket;
    let line = '';
    socket.on('data', (data: Buffer) => {
      for (const c of data.toString('latin1')) {
        if (c !== '\r') {
          line += c;
          continue;
        }
        if (!this.mute) socket.write(this.answer(line));
        line = '';
      }
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
  }

  private answer(line: string): string {
    const ok = '\r';
    const refused = '\x07';
    const kind = line.charAt(0);
    if (kind === 't' || kind === 'T') {
      const frame = line.length > 0 ? parseHostFrame(line) : null;
      if (this.channel !== 'open' || !frame) return refused;
      if (frame.id === 0x356) this.heard356 = true;
      const received = { at: Date.now(), frame };
      this.received.push(received);
      this.emit('frame', received);
      const reply = this.options.transmitReply ?? 'cr';
      return reply === 'cr' ? ok : reply === 'z' ? (kind === 't' ? 'z\r' : 'Z\r') : '';
    }
    this.commands.push(line);
    this.emit('command', line);
    if (/^S[0-8]$/.test(line)) {
      if (this.channel === 'open') return refused;
      this.bitrate = line;
      return ok;
    }
    switch (line) {
      case 'O':
        if (this.channel === 'open' || this.bitrate === null) return refused;
        this.channel = 'open';
        this.emit('open');
        return ok;
      case 'C':
        if (this.channel === 'closed') return refused;
        this.channel = 'closed';
        return ok;
      case 'F':
        return 'F00\r';
      default:
        return refused;
    }
  }
}
