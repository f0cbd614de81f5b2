import { BmsClient, BmsLink } from '../src/link';
import { SimBus, SimulatedBank } from '../src/sim';
import type { BenchResult } from './codec';

let port = 0;

/**
 * Bus time of two parameter reads with the same reply shape (cell over- then under-voltage) on a
 * simulated 9600 Bd wire with 30 ms BMS latency and the link as shipped (1000 ms timeout, 50 ms gap,
 * 500 ms settle), when the first reply comes, when it is lost once (the retry answers), and when it
 * never comes (no retry: the second read must first bring the bus back in step).
 */
async function twoReads(firstReply: 'clean' | 'lost once' | 'lost'): Promise<{ ms: number; syncs: number }> {
  const bus = new SimBus(new SimulatedBank({ packs: 1, current: 0 }), { latencyMs: 30 });
  if (firstReply !== 'clean') bus.script = (n) => (n === 1 ? { drop: true } : undefined);
  const link = BmsLink.acquire({ port: `tcp://late-cost.bench:${String(++port)}`, transportFactory: bus.factory });
  const client = new BmsClient(link, { dialect: 'pace' });
  try {
    await link.open();
    const start = process.hrtime.bigint();
    await client.call('readCellOverVoltage', {}, { retries: firstReply === 'lost' ? 0 : 1 }).catch(() => undefined);
    await client.call('readCellUnderVoltage', {}, { retries: 0 });
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, syncs: link.stats.syncs };
  } finally {
    await link.close();
  }
}

export async function lateReplyBenchmarks(): Promise<BenchResult[]> {
  const clean = await twoReads('clean');
  const lostOnce = await twoReads('lost once');
  const lost = await twoReads('lost');
  return [
    {
      name: 'two same-shape parameter reads, 9600 Bd, clean',
      value: clean.ms,
      unit: 'ms',
      detail: 'the floor: wire time, latency, gap',
    },
    {
      name: '… the first reply lost once (its retry answers)',
      value: lostOnce.ms - clean.ms,
      unit: 'ms more',
      detail: 'timeout + quiet line before the retry',
    },
    {
      name: '… the first reply never comes (no retry)',
      value: lost.ms - clean.ms,
      unit: 'ms more',
      detail: `timeout + quiet line + ${String(lost.syncs)} sync exchange before the second read`,
    },
  ];
}
