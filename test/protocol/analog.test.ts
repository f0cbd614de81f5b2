import assert from 'node:assert/strict';
import { decodeResponse, encodeRequest, encodeResponse, parseFrame, type PackAnalog } from '../../src/protocol';
import { encodeFrame } from '../../src/protocol/frame';

const CELLS = Array.from({ length: 16 }, (_, i) => 3.3 + i / 1000);
const PACK: PackAnalog = {
  pack: 1,
  cellVoltages: CELLS,
  temperatures: [25, 26.1, null, 24.9],
  current: -12.4,
  voltage: 52.92,
  remainingAh: 87.5,
  fullAh: 100,
  designAh: 100,
  cycles: 42,
  soc: 88,
  soh: 100,
  online: true,
};

describe('protocol: analog layouts', () => {
  it('flags the all-zero slot of an unreachable slave as offline and keeps the others', () => {
    const request = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace' });
    const packs = [PACK, { ...PACK, pack: 2, online: false }, { ...PACK, pack: 3, current: 3.5 }];
    const reply = encodeResponse('analog', { packs }, { dialect: 'pace', address: 1, request: { pack: 0xff } });
    const result = decodeResponse(reply, { request });
    assert.equal(result.ok, true);
    const decoded = result.data.packs as PackAnalog[];
    assert.deepEqual(
      decoded.map((p) => [p.pack, p.online]),
      [
        [1, true],
        [2, false],
        [3, true],
      ],
    );
    assert.deepEqual(decoded[1]!.cellVoltages, new Array(16).fill(0));
    assert.equal(decoded[2]!.current, 3.5);
  });

  it('decides PACE units for a PACE-built pack speaking the Pylontech layout (16 cells, UD 02)', () => {
    const request = encodeRequest('analog', { pack: 2 }, { dialect: 'pylontech' });
    const pack = { ...PACK, pack: 2, designAh: null, soh: null, soc: 87.5, temperatures: [25, 26.1, 24.9] };
    const reply = encodeResponse(
      'analog',
      { packs: [pack] },
      { dialect: 'pylontech', address: 2, request: { pack: 2 }, options: { pylontechPaceUnits: true } },
    );
    const info = parseFrame(reply).info;
    assert.equal(info[2], 16, 'cell count');
    const result = decodeResponse(reply, { request });
    assert.equal(result.dialect, 'pylontech');
    const [decoded] = result.data.packs as PackAnalog[];
    assert.equal(decoded!.remainingAh, 87.5);
    assert.equal(decoded!.current, -12.4);
    assert.deepEqual(decoded!.temperatures, [25, 26.1, 24.9]);
  });

  it('reads the pack voltage at 10 mV when that is what agrees with the cells', () => {
    // Pylontech layout, 15 cells of 3.300 V, pack voltage 4950 (= 49.50 V at 10 mV), 50 Ah at 1 mAh.
    const cells = Array.from({ length: 15 }, () => [0x0c, 0xe4]).flat();
    const info = Uint8Array.from([
      0x00,
      0x02,
      15,
      ...cells,
      1,
      0x0b,
      0xc3,
      0x00,
      0x00,
      0x13,
      0x56,
      0x61,
      0xa8,
      0x02,
      0xc3,
      0x50,
      0x00,
      0x05,
    ]);
    const reply = encodeFrame({ version: 0x20, address: 2, cid1: 0x46, cid2: 0, info });
    const result = decodeResponse(reply, { request: '~20024642E00202FD33' });
    const [decoded] = result.data.packs as PackAnalog[];
    assert.equal(decoded!.voltage, 49.5);
    assert.equal(decoded!.fullAh, 50);
    assert.equal(decoded!.soc, 50);
  });

  it('refuses a reply whose pack voltage disagrees tenfold with its cells (other units than the dialect says)', () => {
    // A PACE-layout reply from firmware that sends the pack voltage in 10 mV: 5292 read as 5.292 V.
    const request = encodeRequest('analog', { pack: 1 }, { dialect: 'pace' });
    const reply = encodeResponse(
      'analog',
      { packs: [{ ...PACK, voltage: 5.292 }] },
      { dialect: 'pace', address: 1, request: { pack: 1 } },
    );
    const result = decodeResponse(reply, { request });
    assert.equal(result.ok, false);
    assert.equal(result.error, 'dialect');
    assert.match(result.message ?? '', /^pack 1: voltage 5\.292 V disagrees with the sum of its cells 52\.920 V/);
    assert.deepEqual(result.data, {});
  });

  it('refuses a broadcast whose pack data does not divide into the announced packs', () => {
    const request = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace' });
    const one = parseFrame(
      encodeResponse('analog', { packs: [PACK] }, { dialect: 'pace', address: 1, request: { pack: 1 } }),
    ).info;
    const info = Uint8Array.from([0, 2, ...one.subarray(2), 0x00]);
    const result = decodeResponse(encodeFrame({ version: 0x25, address: 1, cid1: 0x46, cid2: 0, info }), { request });
    assert.equal(result.ok, false);
    assert.equal(result.error, 'length');
    assert.match(result.message ?? '', /do not divide into 2 equal blocks/);
  });

  it('reads every PACE tail length seen in the field (2, 3, 12, 16, 24 bytes)', () => {
    const request = encodeRequest('analog', { pack: 1 }, { dialect: 'pace' });
    for (const [fields, bytes, soh] of [
      [1, 2, 100],
      [2, 3, 100],
      [5, 12, 97],
      [7, 16, 97],
      [9, 24, 97],
    ] as const) {
      const reply = encodeResponse(
        'analog',
        { packs: [{ ...PACK, soh: 97 }] },
        { dialect: 'pace', address: 1, request: { pack: 1 }, options: { paceTailFields: fields } },
      );
      const base = 2 + 1 + 32 + 1 + 8 + 2 + 2 + 2 + 1 + 2 + 2;
      assert.equal(parseFrame(reply).info.length, base + bytes);
      const [decoded] = decodeResponse(reply, { request }).data.packs as PackAnalog[];
      assert.equal(decoded!.soc, fields >= 2 ? 88 : 87.5, 'SOC carried from a 3-byte tail on, else remaining / full');
      assert.equal(decoded!.soh, soh, `tail of ${bytes} bytes`);
    }
  });
});
