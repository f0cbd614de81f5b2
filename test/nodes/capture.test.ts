import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCapture } from '../../src/link';
import { NODES, helper, linkConfig, node, startServer, statusOf, stopServer } from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';

describe('bms-link: frames in the trace log and a capture file', function () {
  this.timeout(30_000);
  let sim: RunningSim;
  let userDir: string;
  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir, logging: { console: { level: 'trace' } } });
    sim = await startSim({ packs: 2 });
  });
  afterEach(async () => {
    await helper.unload();
    await sim.stop();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });

  it('with "capture frames" on, every frame goes to a new file under lifepo4-bms/captures, serials scrambled; each also to the trace log', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      { ...linkConfig('l', sim.tcp), capture: true },
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [[]] },
    ]);
    await statusOf('b', (s) => /2\/2 packs/.test(s.text ?? ''));
    // The helper's spy on the node's trace(): read before the flow goes.
    const traced = (node('l') as unknown as { trace: { args: unknown[][] } }).trace.args.map((a) => String(a[0]));
    assert.ok(
      traced.some((t) => /> request ~2501/.test(t)) && traced.some((t) => /< reply ~2501/.test(t)),
      traced.slice(0, 3).join('\n'),
    );
    await helper.unload();
    const dir = join(userDir, 'lifepo4-bms', 'captures');
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0] ?? '', /^tcp_127_0_0_1_\d+-\d{4}-\d\d-\d\dT[\d-]+Z\.jsonl$/);
    const { header, lines } = parseCapture(readFileSync(join(dir, files[0] ?? ''), 'utf8'));
    assert.equal(header?.anonymised, true);
    assert.equal(lines.filter((l) => l.dir === 'tx').length, sim.bank.received.length);
    const file = readFileSync(join(dir, files[0] ?? ''), 'utf8');
    assert.ok(
      !file.includes(Buffer.from(sim.bank.pack(1).serial).toString('hex').toUpperCase()),
      'no serial in the clear',
    );
  });

  it('capture is off unless it is exactly true', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      { ...linkConfig('l', sim.tcp), capture: 'true' },
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [[]] },
    ]);
    await statusOf('b', (s) => /2\/2 packs/.test(s.text ?? ''));
    await helper.unload();
    assert.throws(() => readdirSync(join(userDir, 'lifepo4-bms', 'captures')), /ENOENT/);
  });

  it('frames go to the trace log only while a logger shows trace', async () => {
    const flow = [
      { id: 'f', type: 'tab' },
      linkConfig('l', sim.tcp),
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [[]] },
    ];
    const traced = (): string[] =>
      (node('l') as unknown as { trace: { args: unknown[][] } }).trace.args.map((a) => String(a[0]));
    for (const level of ['info', 'debug'])
      for (const logging of [
        { console: { level } },
        { console: { level }, custom: { level, handler: () => () => undefined } },
      ]) {
        helper.settings({ userDir, logging });
        await helper.load(NODES, flow);
        await statusOf('b', (s) => /2\/2 packs/.test(s.text ?? ''));
        assert.deepEqual(traced(), [], JSON.stringify(logging));
        await helper.unload();
      }
    // A custom logger at trace is enough.
    helper.settings({
      userDir,
      logging: { console: { level: 'info' }, custom: { level: 'trace', handler: () => () => undefined } },
    });
    await helper.load(NODES, flow);
    await statusOf('b', (s) => /2\/2 packs/.test(s.text ?? ''));
    assert.ok(
      traced().some((t) => /< reply ~2501/.test(t)),
      traced().slice(0, 3).join('\n'),
    );
  });
});
