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
