import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main';
import { assertDecodes } from '../helpers/match';
import { VECTORS } from '../helpers/vectors';

const run = promisify(execFile);
const BIN = path.resolve(__dirname, '../../bin/lfp-bms.js');

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('cli', () => {
  describe('decode prints exactly one JSON object per vector', () => {
    for (const v of VECTORS) {
      v.responses.forEach((response, i) => {
        it(`${v.id}#${i}`, async () => {
          const { code, out, err } = await cli('decode', response, '--request', v.decodeRequests[i]!);
          assert.equal(out.length, 1);
          const result = JSON.parse(out[0]!);
          assertDecodes(result, v.expected[i]);
          assert.equal(code, result.ok ? 0 : 2);
          if (!result.ok) {
            assert.equal(err.length, 1);
            assert.doesNotMatch(err[0]!, /\n/);
          }
        });
      });
    }
  });

  it('decodes without the request and says what it assumed', async () => {
    const { code, out, err } = await cli('decode', VECTORS.find((v) => v.id === 'P25-42-A')!.responses[0]!);
    assert.equal(code, 0);
    const result = JSON.parse(out[0]!);
    assert.equal(result.command, 'analog');
    assert.equal(result.data.packs[0].voltage, 52.429);
    assert.match(err[0]!, /note: no request given: decoded as analog/);
  });

  it('refuses bad input with status 2, one stderr line and still one ok:false object', async () => {
    for (const argv of [
      ['decode'],
      ['decode', '~25014600E00202FD35', '--dialect', 'klingon'],
      ['decode', 'a', 'b'],
      ['decode', 'garbage'],
    ]) {
      const { code, out, err } = await cli(...argv);
      assert.equal(code, 2, argv.join(' '));
      assert.equal(out.length, 1);
      assert.equal(JSON.parse(out[0]!).ok, false);
      assert.equal(err.length, 1);
    }
  });

  it('encodes requests as in the captures', async () => {
    const cases: [string[], string][] = [
      [['encode', 'analog', '--pack', '1', '--dialect', 'pace'], '~25014642E00201FD30'],
      [['encode', 'alarms', '--pack', '1'], '~25014644E00201FD2E'],
      [['encode', 'analog', '--pack', 'all', '--address', '0xFF'], '~25FF4642E002FFFCDA'],
      [['encode', 'packCount', '--address', '1'], '~250146900000FDA5'],
      [['encode', 'switchControl', '--code', '0x0D'], '~25004699E0020DFD12'],
      [['encode', 'dischargeMos', '--off'], '~2500469BE00201FD1C'],
      [['encode', 'writeClock', '--time', '2024-08-20T14:15:37'], '~250046B2400C1808140E0F25FAFC'],
      [
        ['encode', 'writeDischargeOverCurrent1', '--json', '{"enabled":true,"alarm":105,"protect":110,"delay":1}'],
        '~250046DA400C010069006E0AFAF7',
      ],
      [['encode', 'analog', '--dialect', 'eg4', '--pack', '1'], '~20014A420000FDA2'],
      [['encode', 'serial', '--dialect', 'pylontech', '--pack', '2'], '~20024693E00202FD2D'],
    ];
    for (const [argv, frame] of cases)
      assert.deepEqual(await cli(...argv), { code: 0, out: [frame], err: [] }, argv.join(' '));
  });

  it('rejects what cannot be encoded before anything is sent', async () => {
    const cases: [string[], RegExp][] = [
      [['encode', 'analog'], /needs --pack/],
      [['encode', 'analog', '--pack', '300'], /--pack must be a number from 0 to 255/],
      [['encode', 'writeClock', '--time', '2024-02-30T00:00:00'], /not a valid date/],
      [
        ['encode', 'writeDischargeOverCurrent1', '--json', '{"enabled":true,"alarm":-105,"protect":110,"delay":1}'],
        /refused: dischargeOverCurrent1.alarm = -105 A is outside 1…220 A/,
      ],
      [
        [
          'encode',
          'writeCellOverVoltage',
          '--json',
          '{"enabled":true,"alarm":3.6,"protect":3.7,"release":3.38,"delay":1,"extra":1}',
        ],
        /refused: unknown parameter cellOverVoltage.extra/,
      ],
      [['encode', 'writeCellOverVoltage', '--json', '[1]'], /must be a JSON object/],
      [['encode', 'chargeMos', '--on', '--off'], /not both/],
      [['encode', 'packCount', '--dialect', 'eg4'], /not a eg4 command/],
      [['encode', 'analog', '--pack', '1', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [argv, message] of cases) {
      const { code, out, err } = await cli(...argv);
      assert.equal(code, 2, argv.join(' '));
      assert.deepEqual(out, []);
      assert.equal(err.length, 1);
      assert.match(err[0]!, message);
    }
  });

  it('lists the commands of a dialect', async () => {
    const { code, out } = await cli('encode', '--list', '--dialect', 'pylontech');
    assert.equal(code, 0);
    assert.deepEqual(
      out.map((l) => l.split(/\s+/)[0]),
      ['analog', 'alarms', 'systemParameters', 'protocolVersion', 'manufacturer', 'chargeLimits', 'serial', 'version'],
    );
  });

  it('runs as the installed bin', async () => {
    const { stdout, stderr } = await run(process.execPath, [
      BIN,
      'encode',
      'analog',
      '--pack',
      '1',
      '--dialect',
      'pace',
    ]);
    assert.equal(stdout, '~25014642E00201FD30\n');
    assert.equal(stderr, '');
    await assert.rejects(
      run(process.execPath, [BIN, 'decode', '~25014600E00202FD36']),
      (err: { code: number; stdout: string; stderr: string }) => {
        assert.equal(err.code, 2);
        assert.equal(JSON.parse(err.stdout).error, 'checksum');
        assert.equal(err.stderr.trim().split('\n').length, 1);
        return true;
      },
    );
  });
});

describe('cli: help, version and a busy simulator port', () => {
  for (const command of ['decode', 'encode', 'sim', 'scan', 'read']) {
    it(`${command} --help prints its own usage and exits 0`, async () => {
      const { code, out, err } = await cli(command, '--help');
      assert.equal(code, 0);
      assert.deepEqual(err, []);
      assert.match(out.join('\n'), new RegExp(`^usage: lfp-bms ${command} `));
    });
  }

  it('--version prints the package version', async () => {
    const { code, out } = await cli('--version');
    assert.equal(code, 0);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    assert.deepEqual(out, [pkg.version]);
  });

  it('sim on a TCP port in use: one line, exit code 2', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => {
      busy.listen(0, '127.0.0.1', resolve);
    });
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const { code, err } = await cli('sim', '--tcp', `127.0.0.1:${String(port)}`);
      assert.equal(code, 2);
      assert.deepEqual(err, [
        `lfp-bms sim: TCP port ${String(port)} is already in use: choose another with --tcp host:port`,
      ]);
    } finally {
      busy.close();
    }
  });
});

describe('cli: encode takes --pack as the address where a command has no pack field, and refuses out-of-range parameters', () => {
  it('readClock --pack 2 is addressed to pack 2, like --address 2', async () => {
    const byPack = await cli('encode', 'readClock', '--pack', '2');
    const byAddress = await cli('encode', 'readClock', '--address', '2');
    assert.equal(byPack.code, 0);
    assert.deepEqual(byPack.out, byAddress.out);
    assert.match(byPack.out[0] ?? '', /^~2502/);
    assert.equal((await cli('encode', 'readClock', '--pack', 'all')).code, 2);
  });

  it('a 9 V cell over-voltage protection gets no frame, a valid group does', async () => {
    const group = { enabled: true, alarm: 3.6, protect: 3.7, release: 3.38, delay: 1 };
    const bad = await cli(
      'encode',
      'writeCellOverVoltage',
      '--pack',
      '1',
      '--json',
      JSON.stringify({ ...group, protect: 9 }),
    );
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.out, []);
    assert.deepEqual(bad.err, ['lfp-bms encode: refused: cellOverVoltage.protect = 9 V is outside 2.5…4.5 V']);
    const good = await cli('encode', 'writeCellOverVoltage', '--pack', '1', '--json', JSON.stringify(group));
    assert.equal(good.code, 0, good.err.join());
    assert.match(good.out[0] ?? '', /^~2501/);
  });
});
