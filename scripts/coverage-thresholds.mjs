// Coverage per layer from the last `c8 mocha` run (coverage/coverage-summary.json), against the
// floors below. The pure layers and the link carry the safety of the package: they must stay tested.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** Minimum % of lines and of branches per directory: a little below what the suite reaches (98.9 / 87.4, 99.8 / 90.6, 97.5 / 83.2). */
const FLOORS = {
  'src/protocol': { lines: 97, branches: 85 },
  'src/bank': { lines: 98, branches: 88 },
  'src/link': { lines: 95, branches: 80 },
};

const summary = JSON.parse(readFileSync(path.join(root, 'coverage', 'coverage-summary.json'), 'utf8'));
let failed = false;
for (const [dir, floor] of Object.entries(FLOORS)) {
  const total = { lines: [0, 0], branches: [0, 0] };
  for (const [file, s] of Object.entries(summary)) {
    if (file === 'total' || !path.relative(root, file).startsWith(`${dir}/`)) continue;
    for (const kind of ['lines', 'branches']) {
      total[kind][0] += s[kind].covered;
      total[kind][1] += s[kind].total;
    }
  }
  const pct = (kind) => (total[kind][1] ? (100 * total[kind][0]) / total[kind][1] : 100);
  const lines = pct('lines');
  const branches = pct('branches');
  const ok = lines >= floor.lines && branches >= floor.branches;
  failed ||= !ok;
  console.log(
    `${ok ? 'ok  ' : 'LOW '} ${dir.padEnd(14)} lines ${lines.toFixed(1)} % (floor ${floor.lines}), branches ${branches.toFixed(1)} % (floor ${floor.branches})`,
  );
}
if (failed) {
  console.error('coverage below its floor: add tests for what the change left untested');
  process.exit(1);
}
