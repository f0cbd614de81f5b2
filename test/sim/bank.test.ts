import assert from 'node:assert/strict';
import {
  COMMANDS,
  decodeResponse,
  encodeRequest,
  parseFrame,
  type DecodeResult,
  type Dialect,
  type Fields,
  type PackAlarms,
  type PackAnalog,
} from '../../src/protocol';
import { SimulatedBank } from '../../src/sim';

/** A bank on a clock the test moves. */
function bankAt(options: ConstructorParameters<typeof SimulatedBank>[0] = {}): {
  bank: SimulatedBank;
  clock: { now: number };
} {
  const clock = { now: Date.UTC(2026, 5, 1, 12, 0, 0) };
  return { bank: new SimulatedBank({ packs: 3, ...options, now: () => clock.now }), clock };
}

function ask(
  bank: SimulatedBank,
  command: string,
  params: Fields = {},
  address?: number,
  dialect: Dialect = 'pace',
): DecodeResult {
  const request = encodeRequest(command, params, { dialect, ...(address !== undefined ? { address } : {}) });
  const { reply } = bank.handle(request);
  assert.ok(reply, `${command}: no reply`);
  return decodeResponse(reply, { request, dialect });
}

const analogOf = (bank: SimulatedBank, pack = 1): PackAnalog =>
  (ask(bank, 'analog', { pack }).data.packs as PackAnalog[])[0]!;
const alarmsOf = (bank: SimulatedBank, pack = 1): PackAlarms =>
  (ask(bank, 'alarms', { pack }).data.packs as PackAlarms[])[0]!;

describe('simulated bank', () => {
  it('answers every read command of the PACE command table', () => {
    const { bank } = bankAt();
    const reads = COMMANDS.filter(
      (c) => c.dialects.includes('pace') && !c.name.startsWith('write') && c.request.fields === undefined,
    );
    for (const spec of reads) {
      const params = spec.packAddressed ? { pack: 1 } : spec.name === 'history' ? { index: 0 } : {};
      if (['shutdown', 'restoreDefaults', 'clearHistory', 'chargeMos', 'dischargeMos'].includes(spec.name)) continue;
      const result = ask(bank, spec.name, params, 1);
      assert.equal(result.ok, true, `${spec.name}: ${result.message ?? ''}`);
    }
  });

  it('integrates current into charge and warms up under load', () => {
    const { bank, clock } = bankAt({ packs: 1, current: 0 });
    const before = analogOf(bank);
    bank.setCurrent(-50);
    clock.now += 3_600_000;
    const after = analogOf(bank);
    assert.ok(
      Math.abs(before.remainingAh - after.remainingAh - 50) < 0.02,
      `${before.remainingAh} → ${after.remainingAh}`,
    );
    assert.equal(after.current, -50);
    assert.ok(after.temperatures[4]! > before.temperatures[4]! + 2, 'the MOSFET sensor warms with current');
    assert.ok(
      after.cellVoltages.every((v, i) => v < before.cellVoltages[i]!),
      'cells sag under load and with lower charge',
    );
    const sum = after.cellVoltages.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - after.voltage) < 0.001);
  });

  it('raises alarms and latches protections at its own thresholds, and a parameter write changes both', () => {
    const { bank } = bankAt({ packs: 1, current: 10 });
    const pack = bank.pack(1);
    pack.setSoc(0.5);
    pack.cellOffsetsMv[6] = 250;
    assert.deepEqual(alarmsOf(bank).alarms, []);
    pack.cellOffsetsMv[6] = 330;
    assert.deepEqual(alarmsOf(bank).alarms, ['OV']);
    pack.cellOffsetsMv[6] = 430;
    let status = alarmsOf(bank);
    assert.deepEqual(status.protections, ['OVP']);
    assert.equal(status.chargeMos, false);
    assert.equal(analogOf(bank).current, 0, 'no charge current through an open charge MOSFET');
    pack.cellOffsetsMv[6] = 200;
    assert.deepEqual(alarmsOf(bank).protections, ['OVP'], 'latched until the release voltage');
    pack.cellOffsetsMv[6] = 60;
    status = alarmsOf(bank);
    assert.deepEqual(status.protections, []);
    assert.equal(status.chargeMos, true);

    const write = ask(bank, 'writeCellOverVoltage', {
      enabled: true,
      alarm: 3.35,
      protect: 3.7,
      release: 3.38,
      delay: 1,
    });
    assert.equal(write.ok, true);
    assert.deepEqual(ask(bank, 'readCellOverVoltage').data, {
      enabled: true,
      alarm: 3.35,
      protect: 3.7,
      release: 3.38,
      delay: 1,
    });
    assert.deepEqual(alarmsOf(bank).alarms, ['OV']);
  });

  it('reads discharge over-current back negative after a positive write', () => {
    const { bank } = bankAt({ packs: 1 });
    ask(bank, 'writeDischargeOverCurrent1', { enabled: true, alarm: 90, protect: 100, delay: 2 });
    assert.deepEqual(ask(bank, 'readDischargeOverCurrent1').data, {
      enabled: true,
      alarm: -90,
      protect: -100,
      delay: 2,
    });
  });

  it('refuses to open a MOSFET that current flows through (RTN 09) and reports the real state', () => {
    const { bank } = bankAt({ packs: 1, current: -20 });
    const refused = ask(bank, 'dischargeMos', { on: false });
    assert.equal(refused.ok, false);
    assert.equal(refused.rtn, 9);
    bank.setCurrent(0);
    const off = ask(bank, 'dischargeMos', { on: false });
    assert.deepEqual(off.data, { instructionState: 2, chargeMos: true, dischargeMos: false });
    assert.equal(ask(bank, 'chargeMos', { on: false }).rtn, 9, 'not both off');
    assert.equal(alarmsOf(bank).dischargeMos, false);
    assert.equal(ask(bank, 'dischargeMos', { on: true }).ok, true);
  });

  it('keeps a history log, newest first, and runs a settable clock', () => {
    const { bank, clock } = bankAt({ packs: 1, historyRecords: 500 });
    assert.equal(bank.pack(1).history.length, 500);
    const newest = ask(bank, 'history', { index: 0 });
    assert.equal(newest.ok, true);
    assert.deepEqual(ask(bank, 'history', { index: 500 }).data, {});
    clock.now += 10 * 60_000;
    assert.notDeepEqual(ask(bank, 'history', { index: 0 }).data, newest.data);
    assert.deepEqual(ask(bank, 'history', { index: 1 }).data, newest.data);
    assert.equal(bank.pack(1).history.length, 500);

    assert.equal(ask(bank, 'writeClock', { time: '2030-01-02T03:04:05' }).ok, true);
    clock.now += 61_000;
    assert.deepEqual(ask(bank, 'readClock').data, { time: '2030-01-02T03:05:06' });
  });

  it('reports an unreachable slave as an all-zero slot and a sleeping pack answers from the second request', () => {
    const { bank } = bankAt({ packs: 3 });
    bank.setOffline(2, true);
    const packs = ask(bank, 'analog', { pack: 0xff }).data.packs as PackAnalog[];
    assert.deepEqual(
      packs.map((p) => p.online),
      [true, false, true],
    );
    assert.equal(ask(bank, 'packCount', {}, 1).data.packCount, 2);
    bank.setAsleep(3, true);
    const request = encodeRequest('analog', { pack: 3 }, { dialect: 'pace' });
    assert.match(bank.handle(request).silentBecause ?? '', /asleep/);
    assert.ok(bank.handle(request).reply);
  });

  it('speaks Pylontech: modules from address 2 and 0x92 charge limits', () => {
    const bank = new SimulatedBank({ packs: 2, dialect: 'pylontech', current: 10 });
    const all = ask(bank, 'analog', { pack: 0xff }, 2, 'pylontech');
    assert.equal(all.dialect, 'pylontech');
    assert.equal((all.data.packs as PackAnalog[]).length, 2);
    const limits = ask(bank, 'chargeLimits', { pack: 3 }, 3, 'pylontech');
    assert.equal(limits.data.chargeVoltage, 56.8);
    assert.equal(limits.data.chargeEnabled, true);
  });

  it('stays silent for other devices and answers unknown commands with RTN 04', () => {
    const { bank } = bankAt();
    assert.match(
      bank.handle(encodeRequest('analog', { pack: 1 }, { dialect: 'eg4' })).silentBecause ?? '',
      /CID1 4a is not ours/,
    );
    assert.match(
      bank.handle(encodeRequest('analog', { pack: 9 }, { dialect: 'pace' })).silentBecause ?? '',
      /no pack at address 9/,
    );
    const unknown = encodeRequest('analog', { pack: 1 }, { dialect: 'pace' }).replace('4642E002', '4660E002');
    const fixed = unknown.slice(0, -4) + checksum(unknown.slice(1, -4));
    const reply = bank.handle(fixed).reply;
    assert.ok(reply);
    assert.equal(decodeResponse(reply).rtn, 4);
  });
  describe('like real banks', () => {
    const infoOf = (bank: SimulatedBank, command: string, params: Fields, address: number): Uint8Array => {
      const { reply } = bank.handle(encodeRequest(command, params, { dialect: 'pace', address }));
      assert.ok(reply);
      return parseFrame(reply).info;
    };

    it('"all packs" asked of a slave gets only that slave\'s own data; asked of the master, the whole bank', () => {
      const { bank } = bankAt({ packs: 3 });
      const fromSlave = ask(bank, 'analog', { pack: 0xff }, 2);
      assert.deepEqual(
        (fromSlave.data.packs as PackAnalog[]).map((p) => p.cellVoltages),
        [bank.truthFor(2).at(-1)?.analog.cellVoltages],
      );
      assert.equal(infoOf(bank, 'alarms', { pack: 0xff }, 3)[1], 1, 'one block');
      assert.equal((ask(bank, 'analog', { pack: 0xff }, 1).data.packs as PackAnalog[]).length, 3);
    });

    for (const tail of [2, 3, 12, 16, 24] as const) {
      it(`sends ${String(tail)}-byte 0x42 tails, and decoded values are exactly the ones it recorded as sent`, () => {
        const { bank } = bankAt({ packs: 2, analogTailBytes: tail });
        assert.equal(infoOf(bank, 'analog', { pack: 1 }, 1).length, 2 + 57 + tail);
        const decoded = ask(bank, 'analog', { pack: 0xff }, 1).data.packs as PackAnalog[];
        for (const pack of decoded) {
          const { pack: _n, ...values } = pack;
          assert.deepEqual(values, bank.truthFor(pack.pack).at(-1)?.analog);
        }
      });
    }

    for (const block of [36, 37, 41] as const) {
      it(`sends ${String(block)}-byte 0x44 blocks that decode to the state it recorded as sent`, () => {
        const { bank } = bankAt({ packs: 3, alarmBlockBytes: block });
        assert.equal(infoOf(bank, 'alarms', { pack: 0xff }, 1).length, 2 + 3 * block);
        const { pack: _n, ...state } = alarmsOf(bank, 2);
        assert.deepEqual(state, bank.alarmsSentFor(2).at(-1));
      });
    }

    it('answers from its own address or with another version byte when its firmware does (docs/pitfalls.md#p-20, docs/pitfalls.md#p-29)', () => {
      const { bank } = bankAt({ packs: 1, quirks: { responderAddress: 0, version: 0x26 } });
      const { reply } = bank.handle(encodeRequest('analog', { pack: 1 }, { dialect: 'pace', address: 1 }));
      const header = parseFrame(reply!);
      assert.deepEqual([header.version, header.address], [0x26, 0]);
    });

    it('a relay reply may carry a longer tail than the master\'s "all packs" blocks (docs/pitfalls.md#p-23)', () => {
      const { bank } = bankAt({ packs: 2, analogTailBytes: 3, quirks: { relayTailBytes: 16 } });
      assert.equal(infoOf(bank, 'analog', { pack: 0xff }, 1).length, 2 + 2 * (57 + 3));
      assert.equal(infoOf(bank, 'analog', { pack: 2 }, 2).length, 2 + 57 + 16);
    });

    it("a pack switched on mid-run joins the master's replies and its pack count", () => {
      const { bank } = bankAt({ packs: 4 });
      bank.setPresent(4, false);
      assert.equal(ask(bank, 'packCount', {}, 1).data.packCount, 3);
      assert.equal(infoOf(bank, 'analog', { pack: 0xff }, 1)[1], 3);
      assert.equal(bank.handle(encodeRequest('analog', { pack: 4 }, { dialect: 'pace', address: 4 })).reply, undefined);
      bank.setPresent(4, true);
      assert.equal(ask(bank, 'packCount', {}, 1).data.packCount, 4);
      assert.equal(infoOf(bank, 'analog', { pack: 0xff }, 1)[1], 4);
    });

    it('a storage interval of 0 switches history off instead of looping', () => {
      const { bank, clock } = bankAt({ packs: 1 });
      ask(bank, 'writeStorageInterval', { interval: 0 }, 1);
      const before = bank.pack(1).history.length;
      clock.now += 24 * 3_600_000;
      bank.advance();
      assert.equal(bank.pack(1).history.length, before);
      ask(bank, 'writeStorageInterval', { interval: 600 }, 1);
      clock.now += 3_600_000;
      bank.advance();
      assert.equal(bank.pack(1).history.length, before + 6);
    });
  });
});

function checksum(body: string): string {
  let sum = 0;
  for (const c of body) sum += c.charCodeAt(0);
  return ((0x10000 - (sum & 0xffff)) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}
