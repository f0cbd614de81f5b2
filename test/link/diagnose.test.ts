import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { BankConnection, buildDiagnosis, type DiagnosisBundle, type WireEvent } from '../../src/link';
import {
  ALL_PACKS,
  decodeResponse,
  encodeFrame,
  parseFrame,
  unknownStatusBits,
  type Dialect,
} from '../../src/protocol';
import { startSim, type RunningSim } from '../helpers/sim';
import { VECTORS } from '../helpers/vectors';

const vector = (id: string): { request: string; response: string } => {
  const v = VECTORS.find((x) => x.id === id);
  assert.ok(v, id);
  return { request: v.decodeRequests[0] ?? '', response: v.responses[0] ?? '' };
};

describe('diagnosis', function () {
  this.timeout(30_000);

  it('names the status bits real packs set that no table row explains (captured frames)', () => {
    const found = VECTORS.flatMap((v) =>
      v.responses.map((r, i) => ({ id: v.id, response: r, request: v.decodeRequests[i] ?? '' })),
    ).flatMap(({ id, response, request }) => {
      const d = decodeResponse(response, { request });
      if (!d.ok || d.command !== 'alarms') return [];
      return unknownStatusBits(
        parseFrame(response).info,
        d.dialect as Dialect,
        parseFrame(request).info[0] === ALL_PACKS,
      ).map((u) => ({ id, ...u }));
    });
    // PACE instruction b3 ("pack power supply / discharging") and Pylontech status 2 b3 carry no name in the tables.
    assert.deepEqual(found, [
      { id: 'P25-44-A', pack: 1, field: 'instruction', bits: [3] },
      { id: 'PYL-US3000C-44', pack: 2, field: 'status2', bits: [3] },
    ]);
  });

  it('from wire events: timing per command, frames out of turn, replies that did not decode and why, unknown bits', () => {
    const alarms = vector('P25-44-A');
    const analog = vector('P25-42-A');
    // A status reply whose per-cell alarm bytes hold values no alarm state has (0x07), as a firmware
    // with another layout would send.
    const frame = parseFrame(alarms.response);
    const info = Uint8Array.from(frame.info);
    info[3] = 0x07;
    const longer = encodeFrame({ ...frame, info });
    const t = 1_700_000_000_000;
    const events: WireEvent[] = [
      { at: t, dir: 'tx', kind: 'request', text: alarms.request },
      { at: t + 120, dir: 'rx', kind: 'reply', text: alarms.response, ms: 120 },
      { at: t + 200, dir: 'tx', kind: 'request', text: analog.request },
      { at: t + 400, dir: 'rx', kind: 'reply', text: analog.response, ms: 200 },
      { at: t + 500, dir: 'tx', kind: 'request', text: analog.request },
      { at: t + 1500, dir: 'none', kind: 'timeout', text: analog.request, error: 'no reply within 1000 ms' },
      { at: t + 1700, dir: 'rx', kind: 'late', text: analog.response },
      { at: t + 2000, dir: 'tx', kind: 'request', text: alarms.request },
      { at: t + 2300, dir: 'rx', kind: 'damaged', text: '~2501', error: 'checksum' },
      { at: t + 2600, dir: 'rx', kind: 'reply', text: longer, ms: 600 },
    ];
    const b = buildDiagnosis({
      tool: 'test',
      port: 'tcp://x:1',
      baudRate: 9600,
      detection: null,
      silentAt: [],
      events,
      linkStats: null,
      anonymise: false,
    });
    assert.deepEqual(b.timing, [
      { command: 'unknown 0x44', requests: 2, replies: 2, timeouts: 0, latencyMs: { min: 120, median: 600, max: 600 } },
      { command: 'unknown 0x42', requests: 2, replies: 1, timeouts: 1, latencyMs: { min: 200, median: 200, max: 200 } },
    ]);
    assert.deepEqual(b.oddFrames, { late: 1, foreign: 0, damaged: 1 });
    assert.equal(b.decodeFailures.length, 1);
    const [failure] = b.decodeFailures;
    assert.equal(failure?.reply, longer);
    assert.match(failure.error, /07 is not an alarm state \(cellAlarms\)/);
    assert.deepEqual(b.unknownStatusBits, [{ pack: 1, field: 'instruction', bits: [3], command: 'unknown 0x44' }]);
    assert.equal(b.frames.length, events.length);
    assert.deepEqual(b.frames[1], {
      t: new Date(t + 120).toISOString(),
      dir: 'rx',
      kind: 'reply',
      text: alarms.response,
      ms: 120,
    });
  });

  describe('lfp-bms diagnose', () => {
    let sim: RunningSim;
    let dir: string;
    beforeEach(async () => {
      sim = await startSim({ packs: 3 });
      dir = mkdtempSync(join(tmpdir(), 'lfp-diagnose-'));
    });
    afterEach(async () => {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('probes, polls and writes one file with serials scrambled; the terminal gets the summary', async () => {
      const out: string[] = [];
      const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
      const file = join(dir, 'diag.json');
      assert.equal(
        await main(['diagnose', '--port', sim.tcp, '--baud', '9600', '--cycles', '2', '--out', file], io),
        0,
      );
      const text = readFileSync(file, 'utf8');
      const b = JSON.parse(text) as DiagnosisBundle;
      assert.equal(b.detection?.dialect, 'pace');
      assert.deepEqual(b.detection.packs, [1, 2, 3]);
      assert.equal('serial' in b.detection, false);
      assert.ok(
        !text.includes(sim.bank.pack(1).serial) &&
          !text.includes(Buffer.from(sim.bank.pack(1).serial).toString('hex').toUpperCase()),
        'no serial in the file',
      );
      const analog = b.timing.find((x) => x.command === 'analog 0x42');
      assert.ok(analog && analog.replies === analog.requests && analog.requests >= 2 && analog.latencyMs);
      assert.deepEqual(b.decodeFailures, []);
      assert.deepEqual(b.unknownStatusBits, []);
      assert.equal(b.frames.filter((f) => f.dir === 'tx').length, sim.bank.received.length);
      assert.ok(out.some((l) => /pace, broadcast, packs 1, 2, 3/.test(l)));
      assert.ok(out.some((l) => /every reply decoded; no unknown status bits/.test(l)));
      assert.ok(out.some((l) => l.includes(file)));
    });

    it("a running link's diagnosis (the Diagnose button) records whole reads only, even when one was under way", async () => {
      const connection = new BankConnection({ port: sim.tcp, intervalMs: 60_000 });
      const polling = new Promise<void>((resolve) => {
        connection.on('state', (s) => {
          if (s.phase === 'polling') resolve();
        });
      });
      connection.start();
      try {
        await polling;
        // A read is on the wire (its request sent) when the diagnosis starts.
        const sent = new Promise((resolve) => connection.once('wire', resolve));
        void connection.pollNow();
        await sent;
        const b = await connection.diagnose(3);
        assert.deepEqual(b.frames[0] && { dir: b.frames[0].dir, kind: b.frames[0].kind }, {
          dir: 'tx',
          kind: 'request',
        });
        const analog = b.timing.find((t) => t.command === 'analog 0x42');
        assert.deepEqual(analog && { requests: analog.requests, replies: analog.replies }, { requests: 3, replies: 3 });
        assert.equal(b.detection?.dialect, 'pace');
      } finally {
        await connection.stop();
      }
    });

    it('--addresses asks every address one by one too; the timeouts of the empty ones are in the file', async () => {
      const file = join(dir, 'addresses.json');
      const out: string[] = [];
      const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
      assert.equal(
        await main(
          ['diagnose', '--port', sim.tcp, '--baud', '9600', '--cycles', '1', '--addresses', '--out', file],
          io,
        ),
        0,
      );
      const b = JSON.parse(readFileSync(file, 'utf8')) as DiagnosisBundle;
      const asked = new Set(
        b.frames.filter((f) => f.dir === 'tx' && f.kind === 'request').map((f) => parseFrame(f.text ?? '').address),
      );
      for (let address = 0; address <= 15; address++) assert.ok(asked.has(address), `address ${String(address)} asked`);
      assert.ok(
        b.timing.some((t) => t.command === 'analog 0x42' && t.timeouts >= 12),
        'the 12 addresses without a pack timed out',
      );
    });

    it('a port where nothing answers: says at which baud rates, still writes the file, exits 1', async () => {
      sim.bank.setOffline(1, true);
      sim.bank.setOffline(2, true);
      sim.bank.setOffline(3, true);
      const out: string[] = [];
      const file = join(dir, 'none.json');
      const code = await main(['diagnose', '--port', sim.tcp, '--baud', '9600', '--out', file], {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
      });
      assert.equal(code, 1);
      const b = JSON.parse(readFileSync(file, 'utf8')) as DiagnosisBundle;
      assert.equal(b.detection, null);
      assert.deepEqual(b.silentAt, [9600]);
      assert.ok(b.timing.some((x) => x.timeouts > 0));
      assert.ok(out.some((l) => /no bank answered at 9600 Bd/.test(l)));
    });
  });
});
