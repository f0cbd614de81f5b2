import { BankPoller, BmsClient, BmsLink, type BankMode } from '../src/link';
import { SimServer, SimulatedBank } from '../src/sim';
import type { BenchResult } from './codec';

const BAUD = 9600;
const LATENCY_MS = 30;
/** A pack that needs the ~50 ms pacing PACE packs are known for (docs/protocol.md#wiring-and-timing) releases the line after about this. */
const TURNAROUND_MS = 40;

/**
 * A full 15-pack scan (analog + alarms of every pack) at 9600 Bd through a pty and the serialport
 * stack, against its floor: every byte on the wire at 10 bits per byte, plus the simulator's
 * latency once per request. The link adds its inter-frame gap (default 50 ms) between exchanges,
 * which the floor does not count: relay mode is also measured with a 10 ms gap to separate the two.
 */
export async function scanBenchmarks(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // `turnaroundMs`: an RS485 bank whose packs hold the line that long after a reply (half duplex);
  // a request sent sooner is lost and costs a response timeout and a retry.
  const scenarios: { mode: BankMode; gapMs: number; turnaroundMs?: number }[] = [
    { mode: 'broadcast', gapMs: 50 },
    { mode: 'relay', gapMs: 50 },
    { mode: 'relay', gapMs: 10 },
    { mode: 'relay', gapMs: 50, turnaroundMs: TURNAROUND_MS },
    { mode: 'relay', gapMs: 10, turnaroundMs: TURNAROUND_MS },
  ];
  for (const { mode, gapMs, turnaroundMs } of scenarios) {
    const bank = new SimulatedBank({ packs: 15, current: -30 });
    const server = new SimServer({
      bank,
      pty: true,
      baudRate: BAUD,
      latencyMs: LATENCY_MS,
      ...(turnaroundMs !== undefined ? { halfDuplex: true, turnaroundMs } : {}),
    });
    const { pty } = await server.start();
    const link = BmsLink.acquire({ port: pty ?? '', baudRate: BAUD, gapMs });
    try {
      await link.open();
      const packs = Array.from({ length: 15 }, (_, i) => i + 1);
      const poller = new BankPoller(new BmsClient(link, { dialect: 'pace', broadcastPerPackMs: 2000 }), {
        mode,
        packs,
        identity: false,
      });
      // A gap shorter than the packs' turnaround loses nearly every request (about 50 s per scan):
      // one scan shows that; the others are the median of three after a warm-up scan.
      const rounds = turnaroundMs !== undefined && gapMs < turnaroundMs ? 1 : 3;
      if (rounds > 1) await poller.pollNow();
      const ratios: number[] = [];
      const times: number[] = [];
      const lostBefore = server.stats.collisions;
      for (let round = 0; round < rounds; round++) {
        const requestsBefore = server.stats.requests;
        const wireBefore = server.stats.bytesOut + link.stats.bytesOut;
        const started = process.hrtime.bigint();
        const cycle = await poller.pollNow();
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (!cycle.packs.every((p) => p.online)) throw new Error('scan lost a pack');
        const requests = server.stats.requests - requestsBefore;
        const bytes = server.stats.bytesOut + link.stats.bytesOut - wireBefore;
        const floor = (bytes * 10 * 1000) / BAUD + requests * LATENCY_MS;
        ratios.push(ms / floor);
        times.push(ms);
      }
      ratios.sort((a, b) => a - b);
      times.sort((a, b) => a - b);
      const lost = server.stats.collisions - lostBefore;
      const bank485 =
        turnaroundMs === undefined ? '' : `, packs releasing the RS485 line ${String(turnaroundMs)} ms after a reply`;
      results.push({
        name: `15-pack scan, ${mode} (${mode === 'broadcast' ? '2 requests' : '30 requests'}), ${String(gapMs)} ms gap, 9600 Bd via pty${bank485}`,
        value: ratios[Math.floor(rounds / 2)] ?? 0,
        unit: '× floor',
        detail: `${(times[Math.floor(rounds / 2)] ?? 0).toFixed(0)} ms per scan (${rounds > 1 ? `median of ${String(rounds)}` : 'one scan'})${turnaroundMs === undefined ? '' : `; ${String(lost)} of ${String(30 * rounds)} requests lost`}`,
      });
    } finally {
      await link.release();
      await server.stop();
    }
  }
  return results;
}
