import os from 'node:os';
import { codecBenchmarks, type BenchResult } from './codec';
import { cycleBenchmarks } from './cycle';
import { dbusBenchmarks } from './dbus';
import { lateReplyBenchmarks } from './late';
import { scanBenchmarks } from './scan';

const suites: Record<string, () => BenchResult[] | Promise<BenchResult[]>> = {
  codec: codecBenchmarks,
  late: lateReplyBenchmarks,
  scan: scanBenchmarks,
  dbus: dbusBenchmarks,
  cycle: cycleBenchmarks,
};

/**
 * `npm run bench`: prints a Markdown table to paste into BENCHMARKS.md.
 * `npm run bench -- cycle scan` runs only the named suites.
 */
async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in suites));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`node ${process.version}, ${os.cpus().length} × ${cpu}\n\n`);
  const results: BenchResult[] = [];
  for (const [name, run] of Object.entries(suites)) {
    if (asked.length > 0 && !asked.includes(name)) continue;
    process.stderr.write(`running ${name}…\n`);
    results.push(...(await run()));
  }
  process.stdout.write('| benchmark | result | detail |\n|---|---|---|\n');
  for (const r of results) {
    const value = r.value >= 100 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(3);
    process.stdout.write(`| ${r.name} | ${value} ${r.unit} | ${r.detail} |\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
