import assert from 'node:assert/strict';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  findCommand,
  frameChecksum,
  type Dialect,
} from '../../src/protocol';
import { assertDecodes } from '../helpers/match';
import { VECTORS } from '../helpers/vectors';

/** Real captures that survived checksum verification, each with the request it answers. */
const PAIRS = VECTORS.flatMap((v) =>
  v.responses.map((response, i) => ({
    id: `${v.id}#${i}`,
    response,
    request: v.decodeRequests[i]!,
    expected: v.expected[i]!,
  })),
);

describe('protocol: captured vectors', () => {
  it('has every vector of the shared set (74 entries)', () => {
    assert.equal(VECTORS.length, 74);
    assert.ok(PAIRS.length >= 78);
  });

  describe('decode to the expected object', () => {
    for (const pair of PAIRS) {
      it(pair.id, () => {
        const result = decodeResponse(pair.response, { request: pair.request });
        assertDecodes(result, pair.expected);
        if (!result.ok) assert.match(result.message ?? '', /\S/, 'a failed decode explains itself');
      });
    }
  });

  describe('checksums agree with the capture notes', () => {
    for (const v of VECTORS.filter((x) => x.usable_as_checksum_test)) {
      it(v.id, () => {
        for (const [text, ok] of Object.entries(v.checksum_ok)) {
          if (!text.startsWith('~') || !/^~[0-9A-F]+$/.test(text)) continue;
          const sent = parseInt(text.slice(-4), 16);
          assert.equal(frameChecksum(text.slice(1, -4)) === sent, ok, text);
        }
      });
    }
  });

  describe('every captured request re-encodes byte for byte', () => {
    for (const pair of PAIRS.filter((p) => p.expected.dialect !== undefined)) {
      it(pair.id, () => {
        const dialect = pair.expected.dialect as Dialect;
        if (!findCommand(dialect, parseInt(pair.request.slice(7, 9), 16))) {
          // Seplos answers 0x92 with RTN 04: the codec must refuse to speak it too.
          assert.throws(() => decodeRequest(pair.request, dialect), { name: 'FrameError', kind: 'unsupported' });
          return;
        }
        const decoded = decodeRequest(pair.request, dialect);
        const again = encodeRequest(decoded.command, decoded.params, {
          dialect,
          address: decoded.address,
          version: decoded.version,
          cid1: decoded.cid1,
        });
        assert.equal(again, pair.request);
      });
    }
  });

  describe('every decoded reply re-encodes to a frame that decodes the same', () => {
    for (const pair of PAIRS.filter((p) => p.expected.ok === true)) {
      it(pair.id, () => {
        const first = decodeResponse(pair.response, { request: pair.request });
        const dialect = first.dialect!;
        const request = decodeRequest(pair.request, dialect);
        const spec = findCommand(dialect, request.cid2)!;
        const frame = encodeResponse(spec.name, first.data, {
          dialect,
          address: first.address!,
          version: first.version!,
          cid1: first.cid1!,
          request: request.params,
          options: paceTailFor(pair.response, first),
        });
        const second = decodeResponse(frame, { request: pair.request });
        assert.deepEqual(second, first);
      });
    }
  });
});

/** Keep the SOC byte in PACE tails that carry it, so the re-encoded SOC is the captured one. */
function paceTailFor(response: string, decoded: ReturnType<typeof decodeResponse>): Record<string, unknown> {
  if (decoded.dialect !== 'pace' || decoded.command !== 'analog') return {};
  return { paceTailFields: response === VECTORS.find((v) => v.id === 'P25-42-FF2')!.responses[0] ? 2 : 1 };
}
