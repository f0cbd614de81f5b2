import sinon from 'sinon';


/**
 * Fake time for link, poller and job tests: timers and Date only, so promises still settle on their
 * own. `run` advances time until `promise` settles (or `limitMs` passes) and returns its outcome.
 */
export function fakeTime(startAt = new Date(2026, 10, 30, 12, 0, 0).getTime()): FakeTime {
  const clock = sinon.useFakeTimers({ now: startAt, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  return {
    clock,
    async run<T>(promise: Promise<T>, limitMs = 600_000): Promise<T> {
      const state = { settled: false };
      const watched = promise.finally(() => { state.settled = true; });
      watched.catch(() => undefined);
      const until = Date.now() + limitMs;
      while (!state.settled && Date.now() < until) await clock.tickAsync(5);
      if (!state.settled) throw new Error(`still pending after ${String(limitMs)} ms of fake time`);
      return watched;
    },
    async advance(ms: number): Promise<void> {
      await clock.tickAsync(ms);
    },
    restore(): void {
      clock.restore();
    },
  };
}

export interface FakeTime {
  readonly clock: sinon.SinonFakeTimers;
  run<T>(promise: Promise<T>, limitMs?: number): Promise<T>;
  advance(ms: number): Promise<void>;
  restore(): void;
}
