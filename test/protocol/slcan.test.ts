import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameError } from '../../src/protocol';
import { SlcanParser, encodeSlcanFrame, slcanBitrate, type SlcanEvent } from '../../src/protocol/slcan';

describe('slcan (LAWICEL ASCII)', () => {
  it('bit rates: S6 for 500 kbit/s; a rate without a code is refused', () => {
    assert.equal(slcanBitrate(500_000), 'S6\r');
    assert.equal(slcanBitrate(10_000), 'S0\r');
    assert.equal(slcanBitrate(1_000_000), 'S8\r');
    assert.throws(
      () => slcanBitrate(333_000),
      (e: unknown) => e instanceof FrameError && /no code for 333000/.test(e.message),
    );
  });

  it('frames: t + 3 hex id + length + 2 hex per byte; T + 8 hex id for 29-bit ids', () => {
    assert.equal(encodeSlcanFrame({ id: 0x351, data: Uint8Array.from([0x28, 0x02, 0xe8, 0x03]) }), 't35142802E803\r');
    assert.equal(encodeSlcanFrame({ id: 0x35c, data: new Uint8Array(0) }), 't35C0\r');
    assert.equal(encodeSlcanFrame({ id: 0x1234567, data: Uint8Array.from([1]), extended: true }), 'T01234567101\r');
    assert.throws(() => encodeSlcanFrame({ id: 0x800, data: new Uint8Array(1) }), /does not fit 11 bits/);
    assert.throws(() => encodeSlcanFrame({ id: 0x351, data: new Uint8Array(9) }), /at most 8 bytes/);
  });

  it('reads frames, OK (CR, z, Z), refusals (BEL) and status replies, skipping lines it does not know', () => {
    const p = new SlcanParser();
    const events = p.push(`t3058${'00'.repeat(8)}\r\rz\r\x07F84\rV1013\rt30720102\r`);
    assert.deepEqual(events, [
      { kind: 'frame', frame: { id: 0x305, data: new Uint8Array(8) } },
      { kind: 'ok' },
      { kind: 'ok' },
      { kind: 'error' },
      {
        kind: 'status',
        status: { raw: 0x84, errorWarning: true, overrun: false, errorPassive: false, busError: true },
      },
      { kind: 'other', text: 'V1013' },
      { kind: 'frame', frame: { id: 0x307, data: Uint8Array.from([1, 2]) } },
    ] satisfies SlcanEvent[]);
  });

  it('timestamps (Z1 mode), 29-bit and remote frames; lines that only look like frames are "other"', () => {
    const p = new SlcanParser();
    assert.deepEqual(p.push('t30520000EA5F\r'), [
      { kind: 'frame', frame: { id: 0x305, data: Uint8Array.from([0, 0]) }, timestamp: 0xea5f },
    ]);
    assert.deepEqual(p.push('T1234567810A\r'), [
      { kind: 'frame', frame: { id: 0x12345678, data: Uint8Array.from([0x0a]), extended: true } },
    ]);
    assert.deepEqual(p.push('r3058\r'), [{ kind: 'frame', frame: { id: 0x305, data: new Uint8Array(0) } }]);
    assert.deepEqual(p.push('t30590000\rt3052GG00\rt305200\r'), [
      { kind: 'other', text: 't30590000' },
      { kind: 'other', text: 't3052GG00' },
      { kind: 'other', text: 't305200' },
    ]);
  });

  it('the same events in any chunking; noise longer than any line is dropped', () => {
    const stream = `t3058${'00'.repeat(8)}\r\x07t3072ABCD\rF00\r\r`;
    const whole = new SlcanParser().push(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 10 }), (cuts) => {
        const p = new SlcanParser();
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const events: SlcanEvent[] = [];
        let at = 0;
        for (const cut of [...points, stream.length]) {
          events.push(...p.push(stream.slice(at, cut)));
          at = cut;
        }
        assert.deepEqual(events, whole);
      }),
    );
    const p = new SlcanParser();
    assert.deepEqual(p.push(`${'x'.repeat(200)}\rt3050\r`), [
      { kind: 'frame', frame: { id: 0x305, data: new Uint8Array(0) } },
    ]);
  });
});
