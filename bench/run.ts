import os from 'node:os';
import { codecBenchmarks, type BenchResult } from './codec';

/** `npm run bench`: prints a Markdown table to paste into BENCHMARKS.md. */
function main(): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`node ${process.version}, ${os.cpus().length} × ${cpu}\n\n`);
  const results: BenchResult[] = [...codecBenchmarks()];
  process.stdout.write('| benchmark | result | detail |\n|---|---|---|\n');
  for (const r of results) {
    process.stdout.write(`| ${r.name} | ${Math.round(r.value).toLocaleString('en-US')} ${r.unit} | ${r.detail} |\n`);
  }
}

main();
