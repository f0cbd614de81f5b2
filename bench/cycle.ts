import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { aggregateBank, type PackInput } from '../src/bank';
import { decodeResponse, encodeRequest } from '../src/protocol';
import { SimServer, SimulatedBank } from '../src/sim';
import { VenusBridge, startPrivateBus, type ServiceState } from '../src/venus';
import type { BenchResult } from './codec';

const BAUD = 9600;
const PACKS = 15;
const INTERVAL_S = 5;
/** The JIT warms by calls, not by time: at one cycle per 5 s the code runs cold for minutes. */
const EARLY_CYCLES = { from: 3, count: 12 };
const WARM_CYCLES = Number(process.env.BENCH_CYCLE_WARMUP ?? 40);
const MEASURE_CYCLES = Number(process.env.BENCH_CYCLE_MEASURE ?? 24);
/**
 * Node-RED processes with the empty and with the full flow for the RSS comparison: two processes
 * running the same flow differ by several MB (the heap's and the allocator's sizing), as much as
 * the aim, so the growth is the median of five against the median of five.
 */
const RSS_PROCESSES = 5;
/** Between two floor cycles run back to back: the bus writes go out, background compilation finishes. */
const BACK_TO_BACK_PAUSE_MS = 20;
/** Linux reports process CPU in clock ticks of 10 ms (USER_HZ 100). */
const TICK_MS = 10;

const root = resolvePath(__dirname, '..', '..');

interface Measured {
  readonly earlyMs: number;
  readonly steadyMs: number;
  /** The main thread alone (JavaScript and the event loop), without V8's compiler and collector threads or libuv's pool. */
  readonly steadyMainMs: number;
  readonly steadyCorePercent: number;
}

/** utime + stime in ms from a /proc stat line. */
function statCpuMs(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/**
 * CPU of a process in ms — all its threads, and its main thread alone (the task whose id is the
 * process id) — and its resident set in MB, from /proc.
 */
export function usage(pid: number): { cpuMs: number; mainMs: number; rssMb: number; anonMb: number; fileMb: number } {
  const cpuMs = statCpuMs(`/proc/${String(pid)}/stat`);
  const mainMs = statCpuMs(`/proc/${String(pid)}/task/${String(pid)}/stat`);
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const mb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  // Anonymous memory is what the process holds (heaps, buffers); file-backed is code and libraries
  // mapped from disk, shared with other processes and dropped by the kernel under pressure.
  return { cpuMs, mainMs, rssMb: mb('VmRSS'), anonMb: mb('RssAnon'), fileMb: mb('RssFile') };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

/** Node-RED children still running: stopped with the benchmark when it is interrupted. */
const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

interface RunningRed {
  readonly pid: number;
  stop(): Promise<void>;
}

/** Node-RED 4 with this package in a fresh user directory, running `flow`. */
async function startNodeRed(flow: object[]): Promise<RunningRed> {
  const userDir = mkdtempSync(join(tmpdir(), 'lfp-bench-red-'));
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-lifepo4-bms'), 'dir');
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flow));
  writeFileSync(
    join(userDir, 'settings.js'),
    'module.exports = { uiHost: "127.0.0.1", logging: { console: { level: "warn" } }, diagnostics: { enabled: false }, telemetry: { enabled: false } };\n',
  );
  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [redJs, '--userDir', userDir, '--port', String(port), '--settings', join(userDir, 'settings.js'), 'flows.json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.once('exit', (code, signal) => {
    if (process.env.BENCH_DEBUG)
      writeFileSync(
        join(tmpdir(), `bench-red-${String(child.pid)}.log`),
        `exit ${String(code)} ${String(signal)}\n${log}`,
      );
  });
  // Up once its editor answers.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Node-RED did not start: ${log}`);
    const up = await fetch(`http://127.0.0.1:${String(port)}/settings`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    pid: child.pid ?? 0,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/**
 * A simulated 15-pack bank on its own pty (or as a serial-to-TCP gateway sending the wire's pieces
 * as they come), its current swinging so every cycle brings new values.
 */
async function startBank(
  via: 'pty' | 'tcp' = 'pty',
): Promise<{ bank: SimulatedBank; port: string; stop: () => Promise<void> }> {
  const bank = new SimulatedBank({ packs: PACKS, current: -40 });
  const server = new SimServer({ bank, pty: via === 'pty', baudRate: BAUD, latencyMs: 30 });
  const { pty, tcp } = await server.start();
  const swing = setInterval(() => {
    bank.setCurrent(-40 + 30 * Math.sin(Date.now() / 20_000));
  }, 1000);
  return {
    bank,
    port: (via === 'pty' ? pty : tcp) ?? '',
    stop: async () => {
      clearInterval(swing);
      await server.stop();
    },
  };
}

/** Analog reads of the whole bank the simulator has answered: one per poll cycle. */
const cyclesDone = (bank: SimulatedBank): number => bank.received.filter((r) => r.command === 'analog').length;

async function untilCycle(bank: SimulatedBank, n: number): Promise<void> {
  while (cyclesDone(bank) < n) await new Promise((resolve) => setTimeout(resolve, 250));
}

/** CPU per cycle of a running Node-RED, early (cold code) and after the warm-up. */
async function measure(red: RunningRed, bank: SimulatedBank): Promise<Measured> {
  await untilCycle(bank, EARLY_CYCLES.from);
  const early0 = usage(red.pid).cpuMs;
  await untilCycle(bank, EARLY_CYCLES.from + EARLY_CYCLES.count);
  const early1 = usage(red.pid).cpuMs;
  await untilCycle(bank, WARM_CYCLES);
  const { cpuMs: steady0, mainMs: main0 } = usage(red.pid);
  const started = Date.now();
  await untilCycle(bank, WARM_CYCLES + MEASURE_CYCLES);
  const { cpuMs: steady1, mainMs: main1 } = usage(red.pid);
  const seconds = (Date.now() - started) / 1000;
  return {
    earlyMs: (early1 - early0) / EARLY_CYCLES.count,
    steadyMs: (steady1 - steady0) / MEASURE_CYCLES,
    steadyMainMs: (main1 - main0) / MEASURE_CYCLES,
    steadyCorePercent: ((steady1 - steady0) / 1000 / seconds) * 100,
  };
}

/**
 * RSS of each process sampled once per cycle over the steady window: one sample moves by a few MB
 * with the collector's timing, the median of the window's differences does not.
 */
async function rssDuring(pids: readonly number[], bank: SimulatedBank): Promise<ReturnType<typeof usage>[][]> {
  await untilCycle(bank, WARM_CYCLES);
  const samples: ReturnType<typeof usage>[][] = [];
  for (let n = WARM_CYCLES + 1; n <= WARM_CYCLES + MEASURE_CYCLES; n++) {
    await untilCycle(bank, n);
    samples.push(pids.map((pid) => usage(pid)));
  }
  return samples;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/**
 * CPU of a whole poll cycle the way a user runs it: Node-RED with bms-link (the real serialport
 * stack on a pty at 9600 Bd, so bytes arrive in pieces as from a USB adapter), bms-parallel and
 * bms-venus (a private dbus-daemon), 15 packs (and bms-link + bms-pack through a serial-to-TCP
 * gateway); against the floor — decoding the cycle's two replies,
 * aggregating the bank and publishing it, measured alone in this process. Empty flows, a
 * bms-link + bms-pack flow and whole flows run side by side, so their RSS is compared at the same
 * uptime (Node-RED's own memory keeps moving for minutes after start).
 */
export async function cycleBenchmarks(): Promise<BenchResult[]> {
  const bus = await startPrivateBus();
  // The floor back to back first, alone on the machine; at the poll pace beside the Node-RED runs.
  const floorBackToBack = await floorInFreshProcess(bus.address, BACK_TO_BACK_PAUSE_MS);
  const banks = [await startBank(), await startBank(), await startBank('tcp')] as const;
  /** Banks for the full flow's further processes (RSS only). */
  const moreBanks: Awaited<ReturnType<typeof startBank>>[] = [];
  const reds: RunningRed[] = [];
  try {
    const link = (pty: string): object => ({
      id: 'link',
      type: 'bms-link',
      port: pty,
      baud: String(BAUD),
      dialect: 'auto',
      mode: 'auto',
      packs: 'discover',
      interval: String(INTERVAL_S),
      timeout: '1000',
      gap: '50',
      allowWrites: false,
    });
    const tab = { id: 'tab', type: 'tab', label: 'bench' };
    const pack = {
      id: 'pack',
      type: 'bms-pack',
      z: 'tab',
      link: 'link',
      pack: '1',
      topic: '',
      onlyOnChange: false,
      deadband: '0',
      wires: [[]],
    };
    const parallel = {
      id: 'parallel',
      type: 'bms-parallel',
      z: 'tab',
      source: 'link',
      link: 'link',
      stale: '',
      packs: '',
      topic: 'bms/bank',
      wires: [[]],
    };
    const venus = {
      id: 'venus',
      type: 'bms-venus',
      z: 'tab',
      source: 'link',
      link: 'link',
      bus: bus.address,
      bankId: 'bench',
      instance: '1',
      shadow: true,
      packCharge: '50',
      packDischarge: '100',
      maxCharge: '',
      maxDischarge: '',
      cellMax: '3.45',
      cellFloat: '3.375',
      cellMin: '2.9',
      absorption: '15',
      interval: '5',
      lost: '300',
      doubtfulDischarge: '',
      releaseOnLoss: false,
      packServices: false,
      productName: '',
      topic: 'bms/venus',
      wires: [[]],
    };
    const empty = await startNodeRed([tab]);
    reds.push(empty);
    const linkOnly = await startNodeRed([tab, link(banks[0].port), pack]);
    reds.push(linkOnly);
    const full = await startNodeRed([tab, link(banks[1].port), parallel, venus]);
    reds.push(full);
    const gateway = await startNodeRed([tab, link(banks[2].port), pack]);
    reds.push(gateway);
    const empties = [empty];
    const fulls = [full];
    for (let i = 1; i < RSS_PROCESSES; i++) {
      const more = await startBank();
      moreBanks.push(more);
      const another = await startNodeRed([tab]);
      reds.push(another);
      empties.push(another);
      const anotherFull = await startNodeRed([
        tab,
        link(more.port),
        parallel,
        { ...venus, bankId: `bench${String(i)}` },
      ]);
      reds.push(anotherFull);
      fulls.push(anotherFull);
    }
    const pids = [linkOnly, ...empties, ...fulls].map((red) => red.pid);
    const [floor, linkMeasured, fullMeasured, gatewayMeasured, rssSamples] = await Promise.all([
      floorInFreshProcess(bus.address, INTERVAL_S * 1000),
      measure(linkOnly, banks[0].bank),
      measure(full, banks[1].bank),
      measure(gateway, banks[2].bank),
      rssDuring(pids, banks[1].bank),
    ]);
    type MemoryField = 'rssMb' | 'anonMb' | 'fileMb';
    /** Median over the window of a process's figure. */
    const memory = (red: RunningRed, field: MemoryField = 'rssMb'): number => {
      const i = pids.indexOf(red.pid);
      return median(rssSamples.map((s) => s[i]?.[field] ?? 0));
    };
    /** The full flows' median over the empty flows' median. */
    const growth = (field: MemoryField): number =>
      median(fulls.map((red) => memory(red, field))) - median(empties.map((red) => memory(red, field)));
    const range = (group: readonly RunningRed[]): string => {
      const values = group.map((red) => memory(red));
      return `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} MB`;
    };
    const rss = {
      empty: median(empties.map((red) => memory(red))),
      emptyRange: range(empties),
      linkOnly: memory(linkOnly),
      full: median(fulls.map((red) => memory(red))),
      fullRange: range(fulls),
      growth: growth('rssMb'),
      anonGrowth: growth('anonMb'),
      fileGrowth: growth('fileMb'),
    };
    const early = `cycles ${String(EARLY_CYCLES.from + 1)}–${String(EARLY_CYCLES.from + EARLY_CYCLES.count)} after start (code still cold)`;
    const steady = (m: Measured): string =>
      `${m.steadyCorePercent.toFixed(2)} % of one core at a ${String(INTERVAL_S)} s interval; cycles ${String(WARM_CYCLES + 1)}–${String(WARM_CYCLES + MEASURE_CYCLES)}`;
    return [
      {
        name: 'Node-RED CPU per poll cycle, first minute: bms-link + bms-pack, 15 packs, 9600 Bd pty',
        value: linkMeasured.earlyMs,
        unit: 'ms',
        detail: early,
      },
      {
        name: 'Node-RED CPU per poll cycle, steady: bms-link + bms-pack, 15 packs, 9600 Bd pty',
        value: linkMeasured.steadyMs,
        unit: 'ms',
        detail: steady(linkMeasured),
      },
      {
        name: 'Node-RED CPU per poll cycle, first minute: bms-link + bms-parallel + bms-venus, 15 packs, 9600 Bd pty',
        value: fullMeasured.earlyMs,
        unit: 'ms',
        detail: early,
      },
      {
        name: 'Node-RED CPU per poll cycle, steady: bms-link + bms-parallel + bms-venus, 15 packs, 9600 Bd pty',
        value: fullMeasured.steadyMs,
        unit: 'ms',
        detail: steady(fullMeasured),
      },
      {
        name: 'Node-RED CPU per poll cycle, steady: bms-link + bms-pack, 15 packs, 9600 Bd through a TCP gateway',
        value: gatewayMeasured.steadyMs,
        unit: 'ms',
        detail: `${steady(gatewayMeasured)}; the reply arrives in 10-byte pieces, one TCP segment each; first minute ${gatewayMeasured.earlyMs.toFixed(1)} ms`,
      },
      {
        name: 'floor, first minute: decode both replies + aggregate + publish to D-Bus, 15 packs, one cycle per 5 s',
        value: floor.earlyMs,
        unit: 'ms',
        detail: `${early}; alone in a fresh Node.js process; back to back ${floorBackToBack.earlyMs.toFixed(1)} ms`,
      },
      {
        name: 'floor, steady: decode both replies + aggregate + publish to D-Bus, 15 packs, one cycle per 5 s',
        value: floor.steadyMs,
        unit: 'ms',
        detail: `cycles ${String(WARM_CYCLES + 1)}–${String(WARM_CYCLES + MEASURE_CYCLES)}; alone in a fresh Node.js process`,
      },
      {
        name: 'floor, steady, cycles back to back (20 ms apart)',
        value: floorBackToBack.steadyMs,
        unit: 'ms',
        detail: `the same work with caches, collector and compiler kept warm; main thread ${floorBackToBack.steadyMainMs.toFixed(1)} ms`,
      },
      {
        name: 'whole cycle (bms-link + bms-parallel + bms-venus) against the floor, steady',
        value: fullMeasured.steadyMs / floor.steadyMs,
        unit: '× floor',
        detail: `aim ≤ 3; first minute ${(fullMeasured.earlyMs / floor.earlyMs).toFixed(1)} ×; against the back-to-back floor ${(fullMeasured.steadyMs / floorBackToBack.steadyMs).toFixed(1)} ×`,
      },
      {
        name: 'main thread per poll cycle, steady: bms-link + bms-parallel + bms-venus',
        value: fullMeasured.steadyMainMs,
        unit: 'ms',
        detail: `the rest of the ${fullMeasured.steadyMs.toFixed(1)} ms is V8's compiler and collector threads and libuv's pool; bms-link + bms-pack ${linkMeasured.steadyMainMs.toFixed(1)} ms, through the TCP gateway ${gatewayMeasured.steadyMainMs.toFixed(1)} ms`,
      },
      {
        name: 'floor main thread, steady',
        value: floor.steadyMainMs,
        unit: 'ms',
        detail: `of ${floor.steadyMs.toFixed(1)} ms for the whole process`,
      },
      {
        name: 'whole cycle against the floor, main threads, steady',
        value: fullMeasured.steadyMainMs / floor.steadyMainMs,
        unit: '× floor',
        detail: `the work on the event loop alone; against the back-to-back floor ${(fullMeasured.steadyMainMs / floorBackToBack.steadyMainMs).toFixed(1)} ×`,
      },
      {
        name: 'Node-RED RSS growth over an empty flow: bms-link + bms-parallel + bms-venus',
        value: rss.growth,
        unit: 'MB',
        detail: `${String(RSS_PROCESSES)} processes each, median over cycles ${String(WARM_CYCLES + 1)}–${String(WARM_CYCLES + MEASURE_CYCLES)}: ${rss.full.toFixed(1)} MB (${rss.fullRange}) against ${rss.empty.toFixed(1)} MB (${rss.emptyRange}) at the same uptime (aim ≤ 5 MB); anonymous ${rss.anonGrowth.toFixed(1)} MB, file-backed (code) ${rss.fileGrowth.toFixed(1)} MB; bms-link + bms-pack ${rss.linkOnly.toFixed(1)} MB`,
      },
    ];
  } finally {
    for (const red of reds) await red.stop();
    for (const bank of [...banks, ...moreBanks]) await bank.stop();
    await bus.stop();
  }
}

interface Floor {
  readonly earlyMs: number;
  readonly steadyMs: number;
  readonly steadyMainMs: number;
}

/**
 * CPU ms of one cycle's useful work — decode the two broadcast replies, aggregate, publish — over
 * the same cycle numbers as the Node-RED measurement, in a fresh Node.js process: the JIT warms by
 * calls, so the floor at cycle 5 and at cycle 50 differ several times over, and this process has
 * already run other benchmarks through the same decoder. Counted like Node-RED's: the whole
 * process, compiler and collector threads included. `pauseMs` apart: at the poll pace (5 s) the
 * work meets cold caches and an idle collector the way it does in Node-RED, back to back (20 ms)
 * it does not, and costs several times less.
 */
function floorInFreshProcess(address: string, pauseMs: number): Promise<Floor> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, 'floor', address, String(pauseMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`floor measurement exited with ${String(code)}`));
      else resolve(JSON.parse(out) as Floor);
    });
  });
}

async function floorPerCycle(address: string, pauseMs: number): Promise<Floor> {
  let t = 1_700_000_000_000;
  const bank = new SimulatedBank({ packs: PACKS, seed: 5, current: -40, now: () => t });
  const analogRequest = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace', address: 1 });
  const alarmsRequest = encodeRequest('alarms', { pack: 0xff }, { dialect: 'pace', address: 1 });
  const total = WARM_CYCLES + MEASURE_CYCLES;
  // The simulator building the replies is not the link's work: all of them are made first.
  const replies: { at: number; analog: string; alarms: string }[] = [];
  for (let i = 1; i <= total; i++) {
    t += INTERVAL_S * 1000;
    bank.setCurrent(-40 + 30 * Math.sin(i / 10));
    replies.push({
      at: t,
      analog: bank.handle(analogRequest).reply ?? '',
      alarms: bank.handle(alarmsRequest).reply ?? '',
    });
  }
  const bridge = new VenusBridge({
    busAddress: address,
    fallbackId: 'floor',
    bankId: 'floor',
    connection: 'bench',
    pollIntervalMs: 5000,
    clock: () => t,
    watchdogMs: 3_600_000,
  });
  const cycle = (i: number): void => {
    const r = replies[i - 1];
    if (!r) return;
    t = r.at;
    const analog = decodeResponse(r.analog, { request: analogRequest, dialect: 'pace' });
    const alarms = decodeResponse(r.alarms, { request: alarmsRequest, dialect: 'pace' });
    const a = analog.data.packs as PackInput['analog'][];
    const s = alarms.data.packs as NonNullable<PackInput['alarms']>[];
    const inputs = a.map((p, j) => ({
      pack: j + 1,
      analog: p,
      alarms: s[j] ?? null,
      online: true,
      ageMs: 0,
      staleAfterMs: 15_000,
    }));
    aggregateBank(inputs, { staleAfterMs: 15_000 });
    bridge.feed(inputs, t);
  };
  /** CPU of the whole process (every thread: the compiler and collector too, as for Node-RED), in ms. */
  const cpuMs = (): number => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  try {
    const registered = new Promise<void>((resolve) => {
      const check = (state: ServiceState): void => {
        if (state.phase === 'registered') {
          bridge.off('state', check);
          resolve();
        }
      };
      bridge.on('state', check);
    });
    const marks = new Map<number, number>();
    let mainStart = 0;
    for (let i = 1; i <= total; i++) {
      if (i === EARLY_CYCLES.from + 1 || i === EARLY_CYCLES.from + EARLY_CYCLES.count + 1 || i === WARM_CYCLES + 1)
        marks.set(i, cpuMs());
      if (i === WARM_CYCLES + 1) mainStart = usage(process.pid).mainMs;
      cycle(i);
      if (i === 1) await registered;
      // Let the bus writes go out and background compilation finish, as between two polls.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    const end = cpuMs();
    const mainEnd = usage(process.pid).mainMs;
    const span = (from: number, to: number): number => to - (marks.get(from) ?? 0);
    return {
      earlyMs:
        span(EARLY_CYCLES.from + 1, marks.get(EARLY_CYCLES.from + EARLY_CYCLES.count + 1) ?? 0) / EARLY_CYCLES.count,
      steadyMs: span(WARM_CYCLES + 1, end) / MEASURE_CYCLES,
      steadyMainMs: (mainEnd - mainStart) / MEASURE_CYCLES,
    };
  } finally {
    await bridge.stop();
  }
}

if (require.main === module && process.argv[2] === 'floor') {
  floorPerCycle(process.argv[3] ?? '', Number(process.argv[4] ?? BACK_TO_BACK_PAUSE_MS))
    .then((floor) => {
      process.stdout.write(JSON.stringify(floor));
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
