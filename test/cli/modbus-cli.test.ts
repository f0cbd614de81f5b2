import assert from 'node:assert/strict';
import { start, type Run } from '../helpers/cli';

/** `lfp-bms sim|scan|read` on a simulated PACE Modbus bus: over a pty (RTU) and a Modbus-TCP gateway. */
describe('cli: a PACE Modbus bank', function () {
  this.timeout(60_000);
  const sims: Run[] = [];
  after(async () => {
    for (const sim of sims) {
      sim.stop();
      assert.equal(await sim.done, 0);
    }
  });

  const sim = async (...extra: string[]): Promise<Run> => {
    // All 15 DIP addresses taken: scanning finds no silent address to wait out (the fake-time tests do that).
    const run = start(
      'sim',
      '--dialect',
      'pace-modbus',
      '--packs',
      '15',
      '--tcp',
      '127.0.0.1:0',
      '--latency',
      '5',
      ...extra,
    );
    sims.push(run);
    await run.line(/tcp: /);
    return run;
  };

  it('over a pty: scan finds every pack at its own address; read shows each pack', async () => {
    const bus = await sim('--pty', 'auto', '--baud', '19200');
    assert.match(bus.out[0] ?? '', /^simulated PACE Modbus bus of 15 pack\(s\) at addresses 1\.\.15, 19200 Bd/);
    const pty = (await bus.line(/pty: /)).split('pty: ')[1] ?? '';
    const scan = start('scan', '--port', pty, '--baud', '19200', '--dialect', 'pace-modbus');
    assert.equal(await scan.done, 0, scan.err.join('\n'));
    assert.match(scan.out[0] ?? '', /at 19200 Bd: pace-modbus protocol, first answer from address 1/);
    assert.equal(scan.out[1], 'mode: pack by pack, each at its own address');
    assert.equal(scan.out[2], `packs: ${Array.from({ length: 15 }, (_, i) => i + 1).join(', ')}`);
    const read = start('read', '--port', pty, '--baud', '19200', '--dialect', 'pace-modbus');
    assert.equal(await read.done, 0, read.err.join('\n'));
    for (const pack of [1, 8, 15])
      assert.ok(
        read.out.some((l) => new RegExp(`^pack ${String(pack)} {2}online {2}SOC \\d+ %`).test(l)),
        read.out.join('\n'),
      );
  });

  it('through a Modbus-TCP gateway: detected without being told, read as JSON', async () => {
    const gateway = await sim('--modbus-tcp');
    const tcp = (await gateway.line(/tcp: /)).split('tcp: ')[1] ?? '';
    assert.match(tcp, /^modbus-tcp:\/\/127\.0\.0\.1:\d+$/);
    const scan = start('scan', '--port', tcp, '--json');
    assert.equal(await scan.done, 0, scan.err.join('\n'));
    const detection = JSON.parse(scan.out[0] ?? '{}') as { dialect: string; mode: string; packs: number[] };
    assert.deepEqual(
      [detection.dialect, detection.mode, detection.packs],
      ['pace-modbus', 'relay', Array.from({ length: 15 }, (_, i) => i + 1)],
    );
    const read = start('read', '--port', tcp, '--pack', '2', '--json');
    assert.equal(await read.done, 0, read.err.join('\n'));
    const payload = JSON.parse(read.out[0] ?? '{}') as {
      pack: number;
      online: boolean;
      analog: { cellVoltages: number[] };
    };
    assert.equal(payload.pack, 2);
    assert.equal(payload.online, true);
    assert.equal(payload.analog.cellVoltages.length, 16);
  });

  it('refuses what cannot work, in one line', async () => {
    for (const argv of [
      ['sim', '--modbus-tcp'],
      ['sim', '--dialect', 'pace-modbus', '--modbus-tcp', '--pty', 'auto'],
      ['scan', '--port', 'tcp://127.0.0.1:1', '--dialect', 'modbus'],
    ]) {
      const run = start(...argv);
      assert.equal(await run.done, 2, argv.join(' '));
      assert.equal(run.err.length, 1, run.err.join('|'));
    }
  });
});
