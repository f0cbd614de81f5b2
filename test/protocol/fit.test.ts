import assert from 'node:assert/strict';
import { COMMANDS, decodeResponse, encodeRequest, frameChecksum, lengthField, parseFrame } from '../../src/protocol';
import { VECTORS } from '../helpers/vectors';

/** A capture's reply and the request it answers. */
function capture(id: string, i = 0): { response: string; request: string } {
  const v = VECTORS.find((x) => x.id === id);
  if (!v) throw new Error(`no vector ${id}`);
  return { response: v.responses[i]!, request: v.decodeRequests[i]! };
}

/** A checksum-valid frame around INFO given as hex. */
function frame(header: string, infoHex: string): string {
  const body = `${header}${lengthField(infoHex.length).toString(16).toUpperCase().padStart(4, '0')}${infoHex}`;
  return `~${body}${frameChecksum(body).toString(16).toUpperCase().padStart(4, '0')}`;
}

describe('protocol: a reply must fit its request exactly, not just decode', () => {
  const ANALOG = ['P25-42-A', 'P25-42-B', 'PYL-42-US2000C', 'PYL-US3000C-42'];
  const ALARMS = ['P25-44-A', 'P25-44-P2', 'PYL-US3000C-44'];

  for (const id of ANALOG) {
    it(`${id}: an analog reply offered to an alarms request of the same pack does not fit`, () => {
      const { response, request } = capture(id);
      const asked = parseFrame(request);
      const alarmsRequest = encodeRequest(
        'alarms',
        { pack: asked.info[0] ?? 1 },
        { dialect: asked.version === 0x25 ? 'pace' : 'pylontech', address: asked.address },
      );
      const result = decodeResponse(response, { request: alarmsRequest });
      assert.equal(result.ok, false);
      assert.equal(result.error, 'layout', result.message);
    });
  }

  for (const id of ALARMS) {
    it(`${id}: an alarms reply offered to an analog request does not fit, and fits its own`, () => {
      const { response, request } = capture(id);
      const asked = parseFrame(request);
      const dialect = asked.version === 0x25 ? 'pace' : 'pylontech';
      const analogRequest = encodeRequest('analog', { pack: asked.info[0] ?? 2 }, { dialect, address: asked.address });
      assert.equal(decodeResponse(response, { request: analogRequest }).ok, false);
      assert.equal(decodeResponse(response, { request }).ok, true);
    });
  }

  it('a one-pack reply about another pack does not fit (a late answer from the previous pack)', () => {
    const { response } = capture('P25-42-A');
    const forPack2 = encodeRequest('analog', { pack: 2 }, { dialect: 'pace', address: 0 });
    const result = decodeResponse(response, { request: forPack2 });
    assert.equal(result.ok, false);
    assert.match(result.message ?? '', /the reply is about pack 1, not pack 2/);
    // Seplos does not echo the pack: its replies are taken by address alone.
    assert.equal(decodeResponse(capture('SEP-42-A').response, { request: capture('SEP-42-A').request }).ok, true);
  });

  it('a write acknowledgement carries nothing: a reply with data does not acknowledge a write', () => {
    const write = encodeRequest(
      'writeCellOverVoltage',
      { enabled: true, alarm: 3.6, protect: 3.7, release: 3.38, delay: 1 },
      { dialect: 'pace' },
    );
    assert.equal(decodeResponse(capture('P25-D0').response, { request: write }).ok, true);
    const result = decodeResponse(capture('P25-D1').response, { request: write });
    assert.equal(result.ok, false);
    assert.equal(result.error, 'layout');
  });

  it('a status block with more bytes than any firmware sends, or a value byte that is no alarm state, does not fit', () => {
    const request = encodeRequest('alarms', { pack: 1 }, { dialect: 'pace', address: 1 });
    const info = parseFrame(capture('P25-44-A').response).info;
    const hex = (bytes: Uint8Array | number[]): string => Buffer.from(bytes).toString('hex').toUpperCase();
    const longer = frame('25014600', hex([...info, 0, 0, 0, 0, 0, 0]));
    assert.match(decodeResponse(longer, { request }).message ?? '', /after the last known status byte/);
    const bad = [...info];
    bad[3] = 0x0c;
    assert.match(decodeResponse(frame('25014600', hex(bad)), { request }).message ?? '', /0C is not an alarm state/);
  });

  it('every command has a reply shape, and replies of commands sharing one can only be told apart by timing', () => {
    for (const spec of COMMANDS) assert.ok(spec.replyShape.length > 0, spec.name);
    const shapeOf = (name: string): readonly string[] =>
      COMMANDS.find((c) => c.name === name && c.dialects.includes('pace'))!.replyShape;
    assert.deepEqual(shapeOf('readCellOverVoltage'), shapeOf('readPackUnderVoltage'));
    assert.deepEqual(shapeOf('version'), shapeOf('serial'));
    assert.ok(shapeOf('history').includes('bytes:0') && shapeOf('writeClock').includes('bytes:0'));
    assert.notDeepEqual(shapeOf('analog'), shapeOf('alarms'));
  });
});

describe("protocol: dialects the decoder does not speak, and the 0x20 dialects' clock", () => {
  it('a reply in protocol version 0x26 is "unsupported dialect", not half-decoded as PACE', () => {
    const { response } = capture('P25-42-A');
    const info = parseFrame(response).info;
    const claimed = frame('26014600', Buffer.from(info).toString('hex').toUpperCase());
    const result = decodeResponse(claimed, { request: encodeRequest('analog', { pack: 1 }, { dialect: 'pace' }) });
    assert.equal(result.ok, false);
    assert.equal(result.error, 'unsupported');
    assert.match(result.message ?? '', /^unsupported dialect: the reply speaks protocol version 0x26/);
    assert.deepEqual(result.data, {});
    // Told the dialect (a pack that only claims 0x26), it decodes.
    assert.equal(
      decodeResponse(claimed, { request: encodeRequest('analog', { pack: 1 }, { dialect: 'pace' }), dialect: 'pace' })
        .ok,
      true,
    );
  });

  for (const [dialect, header, request] of [
    ['seplos', '20004600', '~200046' + '4D0000'],
    ['eg4', '20014A00', '~20014A' + '4D0000'],
  ] as const) {
    it(`${dialect} 0x4D: the clock reply decodes to { time } (2-byte year), and 0x4E is built from it`, () => {
      const body = request.slice(1);
      const requestFrame = `${request}${frameChecksum(body).toString(16).toUpperCase().padStart(4, '0')}`;
      // 2026-11-30 12:34:56: year 07EA, then month, day, hour, minute, second.
      const reply = frame(header, '07EA0B1E0C2238');
      const result = decodeResponse(reply, { request: requestFrame });
      assert.equal(result.ok, true, result.message);
      assert.equal(result.dialect, dialect);
      assert.equal(result.command, 'clock');
      assert.deepEqual(result.data, { time: '2026-11-30T12:34:56' });
      const set = encodeRequest('writeClock', { time: '2026-11-30T12:34:56' }, { dialect });
      assert.equal(Buffer.from(parseFrame(set).info).toString('hex').toUpperCase(), '07EA0B1E0C2238');
      assert.equal(parseFrame(set).cid2, 0x4e);
    });
  }
});
