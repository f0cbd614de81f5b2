import assert from 'node:assert/strict';
import { start, type Run } from '../helpers/cli';

describe('cli: sim, scan, read', function () {
  this.timeout(30_000);
  let sim: Run;
  let tcp: string;
  let pty: string;

  before(async () => {
    sim = start(
      'sim',
      '--packs',
      '3',
      '--tcp',
      '127.0.0.1:0',
      '--pty',
      'auto',
      '--baud',
      '115200',
      '--latency',
      '5',
      '--faults',
      'offline=3',
    );
    tcp = (await sim.line(/tcp: /)).split('tcp: ')[1]!;
    pty = (await sim.line(/pty: /)).split('pty: ')[1]!;
  });

  after(async () => {
    sim.stop();
    assert.equal(await sim.done, 0);
    assert.match(sim.out.at(-1)!, /stopped after \d+ request/);
  });

  it('scan tells dialect, mode, packs and firmware, and the unreachable pack', async () => {
    const run = start('scan', '--port', pty);
    assert.equal(await run.done, 0, run.err.join('\n'));
    assert.match(run.out[0]!, /at 9600 Bd: pace dialect, first answer from address 1/);
    assert.equal(run.out[1], 'mode: broadcast (the master reports every pack)');
    assert.equal(run.out[2], 'packs: 1, 2; reported unreachable: 3');
    assert.equal(run.out[3], 'firmware: P16S100A-SIM-1.00');
  });

  it('scan --json prints the detection', async () => {
    const run = start('scan', '--port', tcp, '--json');
    assert.equal(await run.done, 0);
    const detection = JSON.parse(run.out[0]!);
    assert.deepEqual(
      [detection.dialect, detection.mode, detection.packs, detection.offlinePacks],
      ['pace', 'broadcast', [1, 2], [3]],
    );
  });

  it('read prints a table per pack', async () => {
    const run = start('read', '--port', tcp, '--pack', '2');
    assert.equal(await run.done, 0, run.err.join('\n'));
    assert.match(run.out[0]!, /^pack 2 {2}online {2}SOC \d+ % {2}\d+\.\d{3} V {2}-?\d+\.\d{2} A/);
    assert.match(run.out[1]!, /^ {2}cells {2}(\d\.\d{3} ){15}\d\.\d{3}$/);
    assert.match(run.out[3]!, /^ {2}temps {2}/);
    assert.match(run.out[4]!, /^ {2}alarms none \| protections/);
  });

  it('read of the whole bank says which pack is not answering, and exits 1', async () => {
    const run = start('read', '--port', tcp);
    assert.equal(await run.done, 1);
    assert.ok(
      run.out.some((l) => l.startsWith('pack 1  online')) && run.out.some((l) => l.startsWith('pack 2  online')),
      'the packs that answer are shown',
    );
    assert.deepEqual(run.err, [
      'lfp-bms read: pack 3 is not answering (the master reports it unreachable or it did not reply)',
    ]);
  });

  it('read --json --watch prints the canonical payload each cycle until stopped', async () => {
    const run = start('read', '--port', tcp, '--json', '--watch', '--interval', '0.2');
    const lines: string[] = [];
    while (lines.length < 4)
      lines.push(
        await run.line(new RegExp(`^\\{"pack":${(lines.length % 2) + 1},`)).then((l) => {
          run.out.splice(run.out.indexOf(l), 1);
          return l;
        }),
      );
    run.stop();
    assert.equal(await run.done, 0);
    const payload = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(payload), [
      'pack',
      'analog',
      'alarms',
      'identity',
      'limits',
      'online',
      'status',
      'ageMs',
      'staleAfterMs',
    ]);
    assert.equal(payload.analog.cellVoltages.length, 16);
  });

  it('errors are one line with a non-zero status', async () => {
    for (const argv of [
      ['read'],
      ['read', '--port', '/dev/no-such-port-lfp'],
      ['scan', '--port', 'tcp://127.0.0.1'],
      ['read', '--port', tcp, '--pack', '3'],
      ['sim', '--packs', '16'],
    ]) {
      const run = start(...argv);
      assert.equal(await run.done, 2, argv.join(' '));
      assert.equal(run.err.length, 1, run.err.join('|'));
      assert.doesNotMatch(run.err[0]!, /\n/);
    }
  });
});
