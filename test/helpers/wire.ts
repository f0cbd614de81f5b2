import sinon from 'sinon';
import { BankPoller, BmsClient, BmsLink, type BankCycle, type BankMode, type PackReading } from '../../src/link';
import { SimBus, type SimulatedBank } from '../../src/sim';

/**
 * Fake time for link, poller and job tests: timers and Date only, so promises still settle on their
 * own. `run` advances time until `promise` settles (or `limitMs` passes) and returns its outcome.
 */
export function fakeTime(startAt = new Date(2026, 10, 30, 12, 0, 0).getTime()): FakeTime {
  const clock = sinon.useFakeTimers({
    now: startAt,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  return {
    clock,
    async run<T>(promise: Promise<T>, limitMs = 600_000): Promise<T> {
      const state = { settled: false };
      const watched = promise.finally(() => {
        state.settled = true;
      });
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

/** One poll cycle as a running bms-link emits it, and when. */
export interface TimedCycle {
  readonly at: number;
  readonly packs: readonly PackReading[];
}

/**
 * What a bms-link's poller emits over `seconds` of (fake) time against a simulated bank: the real
 * link and poller on the simulated wire, with whatever faults `wire` sets up. Used to feed consumers
 * (the Venus bridge) exactly what they would get, on their own clock afterwards.
 */
export async function pollCycles(
  bank: SimulatedBank,
  options: {
    readonly startAt: number;
    readonly seconds: number;
    readonly intervalMs?: number;
    readonly mode?: BankMode;
    readonly wire?: (bus: SimBus, at: number) => void;
  },
): Promise<TimedCycle[]> {
  const time = fakeTime(options.startAt);
  const bus = new SimBus(bank, { latencyMs: 30 });
  const link = BmsLink.acquire({
    port: `tcp://poll-cycles.test:${String(++cyclePorts)}`,
    transportFactory: bus.factory,
  });
  const poller = new BankPoller(new BmsClient(link, { dialect: bank.dialect }), {
    mode: options.mode ?? 'broadcast',
    packs: bank.packs.map((_, i) => i + 1),
    intervalMs: options.intervalMs ?? 5000,
    identity: false,
  });
  const cycles: TimedCycle[] = [];
  poller.on('cycle', (cycle: BankCycle) => {
    cycles.push({ at: Date.now(), packs: cycle.packs });
  });
  try {
    poller.start();
    for (let s = 0; s < options.seconds; s++) {
      options.wire?.(bus, Date.now());
      await time.advance(1000);
    }
    await poller.stop();
    await link.close();
  } finally {
    time.restore();
  }
  return cycles;
}

let cyclePorts = 0;

/** Cycles as a running poller makes them: one every interval, on fake time. */
export async function cyclesEvery(
  time: FakeTime,
  poller: BankPoller,
  n: number,
  intervalMs = 5000,
): Promise<BankCycle[]> {
  const out: BankCycle[] = [];
  for (let i = 0; i < n; i++) {
    const started = Date.now();
    out.push(await time.run(poller.pollNow()));
    await time.advance(Math.max(0, intervalMs - (Date.now() - started)));
  }
  return out;
}
