import os from 'node:os';
import { codecBenchmarks, type BenchResult } from './codec';
import { dbusBenchmarks } from './dbus';
import { lateReplyBenchmarks } from './late';
import { scanBenchmarks } from './scan';

/** `npm run bench`: prints a Markdown table to paste into BENCHMARKS.md. */
async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`node ${process.version}, ${os.cpus().length} × ${cpu}\n\n`);
  const results: BenchResult[] = [...codecBenchmarks(), ...(await lateReplyBenchmarks()), ...(await scanBenchmarks()), ...(await dbusBenchmarks())];
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
