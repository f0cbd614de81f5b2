import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { codeText, knownCodes } from '../src/bank';
import { ALARM_MAP } from '../src/bank/alarm-levels';

const root = join(__dirname, '..');
/** Files the repository tracks or is about to (untracked, not ignored): code, tests, docs. */
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => /\.(ts|mjs|cjs|js|md|html)$/.test(f) && !f.startsWith('test/fixtures/') && existsSync(join(root, f)));

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchorsOf = (file: string): Set<string> =>
  new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ''))),
  );

interface Citation {
  readonly from: string;
  readonly doc: string;
  readonly anchor: string | undefined;
}

function citations(): Citation[] {
  const found: Citation[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/\bdocs\/([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?/g))
      found.push({ from: file, doc: join('docs', m[1] ?? ''), anchor: m[2] });
    // Relative Markdown links inside docs/ and the top-level documents.
    if (file.endsWith('.md')) {
      for (const m of text.matchAll(/\]\(([a-z0-9-]+\.md)?(?:#([a-z0-9-]+))?\)/g)) {
        if (!m[1] && !m[2]) continue;
        found.push({ from: file, doc: m[1] ? normalize(join(dirname(file), m[1])) : file, anchor: m[2] });
      }
    }
  }
  return found;
}

describe('documents the code cites', () => {
  it('every document and section cited exists in the repository', () => {
    const all = citations();
    assert.ok(all.length > 60, `${String(all.length)} citations found`);
    const missing = all.filter(
      (c) => !existsSync(join(root, c.doc)) || (c.anchor !== undefined && !anchorsOf(join(root, c.doc)).has(c.anchor)),
    );
    assert.deepEqual(
      missing.map((c) => `${c.from} → ${c.doc}${c.anchor ? `#${c.anchor}` : ''}`),
      [],
    );
  });

  it('nothing cites documents that are not in the repository', () => {
    const outside =
      /\b(PITFALLS|PROTOCOL|HMI-CODES|decode-output|VENUS-DBUS|CHARGE-CONTROL|TESTING|INTEGRATIONS|MARKET|NODE-RED|PACE-MODBUS)\.md\b|shared\/(protocol|venus)\/|\.\.\/\.\.\/shared\//;
    const offenders = files.filter(
      (f) => f !== 'test/docs.test.ts' && outside.test(readFileSync(join(root, f), 'utf8')),
    );
    assert.deepEqual(offenders, []);
  });
});

describe('docs/codes.md says what the code names', () => {
  it('every code of every level with its text, and the Victron paths it feeds', () => {
    const doc = readFileSync(join(root, 'docs', 'codes.md'), 'utf8');
    for (const [heading, level] of [
      ['### Warnings', 'warning'],
      ['### Protections', 'protection'],
      ['### Faults', 'fault'],
    ] as const) {
      const section =
        doc
          .slice(doc.indexOf(`\n${heading}\n`) + heading.length + 2)
          .split('\n### ')[0]
          ?.split('\n## ')[0] ?? '';
      const rows = [...section.matchAll(/^\| `([A-Z]+)` \| ([^|]+) \| ([^|]*) \|$/gm)].map((m) => [
        m[1],
        m[2]?.trim(),
        m[3]?.trim(),
      ]);
      const paths = (code: string): string =>
        Object.entries(ALARM_MAP)
          .filter(
            ([, s]) =>
              (level === 'warning' ? s.warning : level === 'protection' ? s.protection : []).includes(code) ||
              (level === 'fault' && s.anyFault === true),
          )
          .map(([p]) => `\`/Alarms/${p}\``)
          .join(', ');
      assert.deepEqual(
        rows,
        knownCodes(level).map((c) => [c, codeText(level, c), paths(c)]),
        heading,
      );
    }
  });
});
