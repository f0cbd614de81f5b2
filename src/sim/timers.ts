/** Timers a simulator part owns: all cancelled at once when it closes, so nothing fires after. */
export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();

  later(fn: () => void, ms: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
