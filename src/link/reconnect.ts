import { errorMessage } from './errors';
import type { Transport } from './transport';

/**
 * Reopens a port that went away, after a capped exponential backoff (min, 2 × min, 4 × min … max);
 * `succeeded` starts the count again. One timer, never stacked.
 */
export class Reconnector {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly reopen: () => void,
  ) {}

  /** Reopens after the next delay of the backoff; returns it (ms). */
  schedule(): number {
    clearTimeout(this.timer);
    const delay = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reopen();
    }, delay);
    return delay;
  }

  succeeded(): void {
    this.attempt = 0;
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Wires a fresh transport (its bytes to `onData`, its end or a failed open to `onLost` with the
 * reason) and opens it; true once open.
 */
export async function openWired(
  transport: Transport,
  onData: (data: Buffer) => void,
  onLost: (reason: string) => void,
): Promise<boolean> {
  transport.on('data', onData);
  transport.on('close', (err?: Error) => {
    onLost(err ? errorMessage(err) : 'port closed');
  });
  try {
    await transport.open();
    return true;
  } catch (err) {
    onLost(errorMessage(err));
    return false;
  }
}
