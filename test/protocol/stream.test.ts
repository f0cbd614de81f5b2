import assert from 'node:assert/strict';
import { FrameStreamParser, type StreamEvent } from '../../src/protocol';

const A = '~25014600E00202FD35';
const B = '~25004600C0040D01FCC3';

function frames(events: StreamEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'frame' ? [e.text] : []));
}

describe('protocol: stream parser', () => {
  it('finds frames split across chunks at every position', () => {
    const stream = `${A}\r${B}\r`;
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new FrameStreamParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(Buffer.from(stream.slice(cut), 'latin1'))];
      assert.deepEqual(frames(events), [A, B], `cut at ${cut}`);
      assert.equal(parser.bufferedChars, 0);
    }
  });

  it('skips garbage between frames and counts it, ignoring CRLF line ends', () => {
    const parser = new FrameStreamParser();
    const events = parser.push(`\x00\xffnoise${A}\r\n##${B}\r`);
    assert.deepEqual(frames(events), [A, B]);
    const garbage = events.filter((e) => e.type === 'garbage');
    assert.deepEqual(garbage, [{ type: 'garbage', bytes: 9 }]);
  });

  it('resyncs on the next "~" when a frame is cut off', () => {
    const parser = new FrameStreamParser();
    const events = parser.push(`${B.slice(0, 18)}${B}\r`);
    assert.equal(events[0]?.type, 'error');
    assert.deepEqual(frames(events), [B]);
  });

  it('counts a "~" run or a stub shorter than any frame as noise, not as damaged frames', () => {
    const parser = new FrameStreamParser();
    const flood = '~'.repeat(65_536);
    const events = [...parser.push(Buffer.from(flood, 'latin1')), ...parser.push(`~0~00~${A.slice(1, 10)}${A}\r`)];
    assert.deepEqual(
      events.filter((e) => e.type === 'error'),
      [],
    );
    assert.deepEqual(frames(events), [A]);
    assert.equal(
      events.reduce((n, e) => n + (e.type === 'garbage' ? e.bytes : 0), 0),
      65_536 + 2 + 3 + 10,
    );
  });

  it('gives the same events whatever the chunking, byte by byte included', () => {
    const stream = `xx${A}\r~123${B.slice(0, 18)}${B}\r\n${A.slice(0, -1)}0\r`;
    const whole = new FrameStreamParser().push(stream);
    const parser = new FrameStreamParser();
    const pieces = [...stream].flatMap((c) => parser.push(Buffer.from(c, 'latin1')));
    const merged = (events: StreamEvent[]): unknown[] =>
      events.filter((e) => e.type !== 'garbage').map((e) => [e.type, 'text' in e ? e.text : '']);
    assert.deepEqual(merged(pieces), merged(whole));
    const noise = (events: StreamEvent[]): number =>
      events.reduce((n, e) => n + (e.type === 'garbage' ? e.bytes : 0), 0);
    assert.equal(noise(pieces), noise(whole));
  });

  it('reports a damaged frame and keeps going', () => {
    const parser = new FrameStreamParser();
    const events = parser.push(`${A.slice(0, -1)}0\r${B}\r`);
    const error = events.find((e) => e.type === 'error');
    assert.equal(error?.type === 'error' ? error.error.kind : undefined, 'checksum');
    assert.deepEqual(frames(events), [B]);
  });

  it('bounds the length of a frame without CR', () => {
    const parser = new FrameStreamParser({ maxFrameChars: 64 });
    const events = parser.push(`~${'0'.repeat(100)}`);
    assert.equal(events.length, 1);
    assert.ok(events[0]?.type === 'error' && events[0].error.kind === 'length');
    assert.equal(parser.bufferedChars, 0);
    assert.deepEqual(frames(parser.push(`${A}\r`)), [A]);
  });

  it('recognises the echo of the request just sent and not the reply', () => {
    const request = '~25FF4642E002FFFCDA';
    const parser = new FrameStreamParser();
    parser.expectEcho(`${request}\r`);
    const events = parser.push(`${request}\r${A}\r`);
    assert.deepEqual(
      events.map((e) => e.type),
      ['echo', 'frame'],
    );
    parser.expectEcho(undefined);
    assert.equal(parser.push(`${request}\r`)[0]?.type, 'frame');
  });
});
