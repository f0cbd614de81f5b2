import assert from 'node:assert/strict';
import { FrameError, decodeResponse, encodeFrame, frameChecksum, lengthField, parseFrame } from '../../src/protocol';

function expectFrameError(fn: () => unknown, kind: string): void {
  assert.throws(
    fn,
    (err: unknown) =>
      err instanceof FrameError && err.kind === kind && err.message.length > 0 && !err.message.includes('\n'),
  );
}

describe('protocol: frame', () => {
  it('computes the LENGTH values worked in the reference, including the overflow case of docs/pitfalls.md#p-06', () => {
    const table: [number, string][] = [
      [0x002, 'E002'],
      [0x004, 'C004'],
      [0x00c, '400C'],
      [0x010, 'F010'],
      [0x01a, '501A'],
      [0x028, '6028'],
      [0x04c, '004C'],
      [0x050, 'B050'],
      [0x07a, 'F07A'],
      [0x090, '7090'],
      [0x0f0, '10F0'],
      [0x118, '6118'],
      [0x568, 'D568'],
    ];
    for (const [lenid, hex] of table) assert.equal(lengthField(lenid).toString(16).toUpperCase().padStart(4, '0'), hex);
    assert.equal(lengthField(0), 0);
  });

  it('rejects INFO lengths that cannot be framed', () => {
    expectFrameError(() => lengthField(3), 'range');
    expectFrameError(() => lengthField(4096), 'range');
  });

  it('builds the PbmsTools analog request of the worked example', () => {
    assert.equal(frameChecksum('25014642E00201'), 0xfd30);
    assert.equal(
      encodeFrame({ version: 0x25, address: 1, cid1: 0x46, cid2: 0x42, info: Uint8Array.of(1) }),
      '~25014642E00201FD30',
    );
  });

  it('reduces the checksum modulo 65536, as the correct vendor example shows (docs/pitfalls.md#p-01, docs/pitfalls.md#p-02)', () => {
    assert.equal(frameChecksum('1203400356ABCEFE'), 0xfc72);
    assert.equal(frameChecksum('1203400456ABCEFE'), 0xfc71);
    // A body whose ASCII sum passes 65535: mod-65535 code would be off by one here.
    const body = 'F'.repeat(1000);
    assert.equal(frameChecksum(body), (0x10000 - ((70 * 1000) & 0xffff)) & 0xffff);
  });

  it('parses a frame with or without CR and checksums lowercase as received', () => {
    const frame = parseFrame('~25014600E00202FD35\r');
    assert.deepEqual(
      { ...frame, info: [...frame.info] },
      { version: 0x25, address: 1, cid1: 0x46, cid2: 0, info: [2] },
    );
    const lower = '~25014642e00201';
    const sum = frameChecksum(lower.slice(1));
    const text = lower + sum.toString(16).toUpperCase().padStart(4, '0');
    assert.equal(parseFrame(text).cid2, 0x42);
    expectFrameError(() => parseFrame('~25014642e00201FD30'), 'checksum');
  });

  it('gives each kind of damage its own typed error with a one-line message', () => {
    expectFrameError(() => parseFrame('25014642E00201FD30'), 'format');
    expectFrameError(() => parseFrame('~2501'), 'format');
    expectFrameError(() => parseFrame('~25014642E00201FD3G'), 'format');
    expectFrameError(() => parseFrame('~25014642E00201FD31'), 'checksum');
    // LENGTH 1002 fails its own nibble checksum; CHKSUM recomputed so only LCHKSUM is wrong.
    const badL = '25014642100201';
    expectFrameError(() => parseFrame(`~${badL}${frameChecksum(badL).toString(16).toUpperCase()}`), 'lchksum');
    // LENID says 4 characters but 2 arrived.
    const short = '25014642C00401';
    expectFrameError(() => parseFrame(`~${short}${frameChecksum(short).toString(16).toUpperCase()}`), 'length');
    expectFrameError(() => parseFrame(`~${'0'.repeat(5000)}`), 'length');
  });

  it('reports RTN refusals by name', () => {
    const result = decodeResponse('~25004609E00204FD2B', { request: '~2500469BE00201FD1C' });
    assert.equal(result.ok, false);
    assert.equal(result.rtn, 9);
    assert.match(result.message ?? '', /^RTN 09: refused by the BMS$/);
  });
});
