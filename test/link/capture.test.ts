import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';
import { BmsLink, parseCapture, type CaptureLine, type PackPayload } from '../../src/link';
import { decodeResponse, parseFrame } from '../../src/protocol';
import { ReplayBank, SimServer } from '../../src/sim';
import { assertDecodes } from '../helpers/match';
import { startSim, type RunningSim } from '../helpers/sim';
import { VECTORS } from '../helpers/vectors';

const run = promisify(execFile);

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('capture and replay', function () {
  this.timeout(30_000);
  let sim: RunningSim;
  let dir: string;
  beforeEach(async () => {
    sim = await startSim({ packs: 3, current: -12 });
    dir = mkdtempSync(join(tmpdir(), 'lfp-capture-'));
  });
  afterEach(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lfp-bms capture records every frame both ways with its time; the capture replayed answers lfp-bms read with the captured values', async () => {
    const file = join(dir, 'bank.jsonl');
    const captured = await cli('capture', '--port', sim.tcp, '--out', file, '--cycles', '2', '--interval', '0.2');
    assert.equal(captured.code, 0, captured.err.join('\n'));
    const { header, lines } = parseCapture(readFileSync(file, 'utf8'));
    assert.ok(header);
    assert.equal(header.port, sim.tcp);
    assert.equal(header.anonymised, false);
    const requests = lines.filter((l) => l.dir === 'tx');
    const replies = lines.filter((l) => l.kind === 'reply');
    // Every request the bank answered is in the file, with its reply after it and the reply's latency.
    assert.equal(requests.length, sim.bank.received.length);
    assert.ok(replies.length >= requests.length - 1 && replies.every((r) => typeof r.ms === 'number' && r.ms >= 0));
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.t))));
    for (const l of lines.filter((x) => x.text)) parseFrame(l.text ?? '');

    // Replayed: a fresh read sees exactly what was captured, decoded the same way.
    const replay = new ReplayBank(lines);
    const server = new SimServer({ bank: replay, baudRate: 115200, latencyMs: 2 });
    const { tcp } = await server.start();
    try {
      const read = await cli('read', '--port', tcp, '--json');
      assert.equal(read.code, 0, read.err.join('\n'));
      const payloads = read.out.map((l) => JSON.parse(l) as PackPayload);
      assert.deepEqual(
        payloads.map((p) => p.pack),
        [1, 2, 3],
      );
      // Every analog reading in the capture, decoded with the request it answered.
      const sent: { pack: number }[] = [];
      let asked = '';
      for (const l of lines) {
        if (l.dir === 'tx') asked = l.text ?? '';
        else if (l.kind === 'reply' && parseFrame(asked).cid2 === 0x42) {
          const d = decodeResponse(l.text ?? '', { dialect: 'pace', request: asked });
          if (d.ok) sent.push(...(d.data.packs as { pack: number }[]));
        }
      }
      for (const p of payloads) {
        assert.ok(
          sent.some((s) => JSON.stringify(s) === JSON.stringify(p.analog)),
          `pack ${String(p.pack)} read values that were captured`,
        );
      }
      assert.deepEqual(replay.unknown, [], 'every request read sends was in the capture');
    } finally {
      await server.stop();
    }
  });

  it('--anonymise scrambles serial numbers the same way throughout, and the frames stay valid', async () => {
    const file = join(dir, 'anon.jsonl');
    assert.equal((await cli('capture', '--port', sim.tcp, '--out', file, '--cycles', '1', '--anonymise')).code, 0);
    const { header, lines } = parseCapture(readFileSync(file, 'utf8'));
    assert.equal(header?.anonymised, true);
    const serials = serialReplies(lines);
    assert.ok(serials.length >= 1);
    const real = sim.bank.pack(1).serial;
    for (const s of serials) {
      assert.notEqual(s, real);
      assert.equal(s.length, real.length);
    }
    assert.ok(
      !readFileSync(file, 'utf8').includes(Buffer.from(real).toString('hex').toUpperCase()),
      'the serial appears nowhere',
    );
  });

  it('every captured real frame replays through the link and decodes as the fixture says', async () => {
    const pairs = VECTORS.flatMap((v) =>
      v.responses.map((response, i) => ({
        id: v.id,
        response,
        request: v.decodeRequests[i] ?? '',
        expected: v.expected[i],
      })),
    ).filter((p) => p.request && (p.expected as { ok?: boolean } | undefined)?.ok === true);
    assert.ok(pairs.length > 40);
    const lines: CaptureLine[] = pairs.flatMap((p) => [
      { t: '2026-11-30T00:00:00.000Z', dir: 'tx', kind: 'request', text: p.request },
      { t: '2026-11-30T00:00:00.100Z', dir: 'rx', kind: 'reply', text: p.response },
    ]);
    const server = new SimServer({ bank: new ReplayBank(lines), baudRate: 115200, latencyMs: 1 });
    const { tcp } = await server.start();
    const link = BmsLink.acquire({ port: tcp, timeoutMs: 500, gapMs: 0 });
    try {
      for (const p of pairs) {
        // Requests captured twice with different replies (two captures of one command) answer in turn.
        const reply = await link.request(p.request, { accept: () => true });
        const twin = pairs.filter((q) => q.request.toUpperCase() === p.request.toUpperCase()).map((q) => q.response);
        assert.ok(twin.includes(reply.text), `${p.id}: replayed a reply captured for that request`);
        if (reply.text === p.response) assertDecodes(decodeResponse(reply.text, { request: p.request }), p.expected);
      }
    } finally {
      await link.release();
      await server.stop();
    }
  });

  it('DEBUG=lfp-bms:frames shows every frame and what the link made of it', async () => {
    const { stderr } = await run(
      process.execPath,
      [join(__dirname, '..', '..', 'bin', 'lfp-bms.js'), 'read', '--port', sim.tcp, '--pack', '1'],
      {
        env: { ...process.env, DEBUG: 'lfp-bms:*', DEBUG_COLORS: 'no' },
      },
    );
    assert.match(
      stderr,
      new RegExp(`lfp-bms:frames ${sim.tcp.replace(/[/.]/g, '\\$&')} > request ~25014642E00201FD30`),
    );
    assert.match(stderr, /lfp-bms:frames \S+ < reply ~25014600[0-9A-F]+ \(\d+ ms\)/);
  });

  it('a file that is not a capture is refused with the line that is wrong', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"capture":1}\n{"dir":"tx","kind":"request","text":"~x"}\nnot json\n');
    const result = await cli('sim', '--replay', file, '--tcp', '127.0.0.1:0');
    assert.equal(result.code, 2);
    assert.match(result.err.join('\n'), /bad\.jsonl: line 3 is not JSON/);
  });
});

/** The serials in captured 0xC2 replies, decoded. */
function serialReplies(lines: readonly CaptureLine[]): string[] {
  const out: string[] = [];
  let asked = '';
  for (const l of lines) {
    if (l.dir === 'tx') asked = l.text ?? '';
    else if (l.kind === 'reply' && asked && parseFrame(asked).cid2 === 0xc2) {
      const d = decodeResponse(l.text ?? '', { request: asked, dialect: 'pace' });
      if (d.ok && typeof d.data.bmsSerial === 'string') out.push(d.data.bmsSerial);
    }
  }
  return out;
}
