import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  COMMANDS,
  FrameError,
  FrameStreamParser,
  decodeRequest,
  decodeResponse,
  encodeFrame,
  encodeRequest,
  encodeResponse,
  parseFrame,
  type CommandSpec,
  type Dialect,
} from '../../src/protocol';
import { arbitrariesFor } from '../helpers/arbitraries';
import { VECTORS } from '../helpers/vectors';

const CASES: { spec: CommandSpec; dialect: Dialect }[] = COMMANDS.flatMap((spec) =>
  spec.dialects.map((dialect) => ({ spec, dialect })),
);
const ADDRESS = { pace: 1, pylontech: 2, seplos: 0, eg4: 1 } as const;

/** Valid frames from the captures, the base for mutation properties. */
const VALID_FRAMES = VECTORS.flatMap((v) =>
  v.responses.map((r, i) => ({ response: r, request: v.decodeRequests[i]! })),
).filter(({ response }) => {
  try {
    parseFrame(response);
    return true;
  } catch {
    return false;
  }
});

/** fast-check builds records without a prototype; compare structure only. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('protocol: properties', () => {
  it('has generators for every command of every dialect', () => {
    const missing = CASES.filter(({ spec, dialect }) => !arbitrariesFor(spec, dialect)).map(
      ({ spec, dialect }) => `${dialect}:${spec.name}`,
    );
    assert.deepEqual(missing, []);
  });

  describe('requests round-trip through encode and decode', () => {
    for (const { spec, dialect } of CASES) {
      it(`${dialect} ${spec.name}`, () => {
        const arbs = arbitrariesFor(spec, dialect)!;
        fc.assert(
          fc.property(arbs.request, (params) => {
            const text = encodeRequest(spec.name, params, { dialect });
            const decoded = decodeRequest(text, dialect);
            assert.equal(decoded.command, spec.name);
            assert.deepEqual(plain(decoded.params), plain(params));
          }),
          { numRuns: 60 },
        );
      });
    }
  });

  describe('responses round-trip through encode and decode', () => {
    for (const { spec, dialect } of CASES) {
      it(`${dialect} ${spec.name}`, () => {
        const arbs = arbitrariesFor(spec, dialect)!;
        fc.assert(
          fc.property(arbs.response, arbs.request, ({ data, request: answered, options, expected }, anyRequest) => {
            const request = answered ?? anyRequest;
            const requestText = encodeRequest(spec.name, request, { dialect });
            const address = ADDRESS[dialect];
            const text = encodeResponse(spec.name, data, {
              dialect,
              address,
              request,
              ...(options ? { options } : {}),
            });
            const result = decodeResponse(text, { request: requestText });
            assert.equal(result.ok, true, result.message);
            assert.equal(result.dialect, dialect);
            assert.deepEqual(plain(result.data), plain(expected));
          }),
          { numRuns: 60 },
        );
      });
    }
  });

  it('random text never throws and never decodes as ok', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'~0123456789ABCDEFabcdef\r x'), maxLength: 300 }),
        fc.constantFrom(undefined, '~25014642E00201FD30'),
        (text, request) => {
          const result = decodeResponse(`~${text}`, request ? { request } : {});
          assert.equal(result.ok, false);
          assert.match(result.message ?? '', /\S/);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('any single-character change of a valid frame is caught and only as a FrameError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID_FRAMES),
        fc.nat(),
        fc.constantFrom(...'0123456789ABCDEFabcdef~\rZ'),
        ({ response, request }, at, ch) => {
          const pos = 1 + (at % (response.length - 1));
          // Same character, or only the case of a checksum digit (read as a number, not summed).
          if (response[pos] === ch || (pos >= response.length - 4 && response[pos]!.toUpperCase() === ch.toUpperCase()))
            return;
          const mutated = response.slice(0, pos) + ch + response.slice(pos + 1);
          assert.throws(() => parseFrame(mutated), FrameError);
          assert.equal(decodeResponse(mutated, { request }).ok, false);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('inserting or deleting a character never throws anything but FrameError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_FRAMES), fc.nat(), fc.boolean(), ({ response, request }, at, insert) => {
        const pos = 1 + (at % (response.length - 1));
        const mutated = insert
          ? `${response.slice(0, pos)}0${response.slice(pos)}`
          : response.slice(0, pos) + response.slice(pos + 1);
        try {
          parseFrame(mutated);
        } catch (err) {
          assert.ok(err instanceof FrameError);
        }
        decodeResponse(mutated, { request });
      }),
      { numRuns: 2000 },
    );
  });

  it('random INFO in a checksum-valid frame decodes or fails cleanly for every command', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CASES),
        fc.uint8Array({ maxLength: 400 }),
        fc.boolean(),
        ({ spec, dialect }, info, all) => {
          const request = spec.packAddressed ? { pack: all && dialect !== 'eg4' ? 0xff : 1 } : {};
          let requestText: string;
          try {
            requestText = encodeRequest(spec.name, request, { dialect });
          } catch {
            return;
          }
          const profile = decodeRequest(requestText, dialect).frame;
          const text = encodeFrame({
            version: profile.version,
            address: profile.address,
            cid1: profile.cid1,
            cid2: 0,
            info,
          });
          const result = decodeResponse(text, { request: requestText });
          if (!result.ok)
            assert.ok(
              ['length', 'layout', 'range', 'format', 'dialect'].includes(result.error ?? ''),
              `${result.error ?? ''}: ${result.message ?? ''}`,
            );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the stream parser finds every frame among garbage at any chunking', () => {
    const garbage = fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF xyz\n\x00\xff'), maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(garbage, fc.constantFrom(...VALID_FRAMES)), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (parts, cuts) => {
          const stream = parts.map(([g, f]) => `${g}${f.response}\r`).join('');
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const parser = new FrameStreamParser();
          const found: string[] = [];
          let last = 0;
          for (const p of [...points, stream.length]) {
            for (const e of parser.push(Buffer.from(stream.slice(last, p), 'latin1')))
              if (e.type === 'frame') found.push(e.text);
            last = p;
          }
          assert.deepEqual(
            found,
            parts.map(([, f]) => f.response),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
