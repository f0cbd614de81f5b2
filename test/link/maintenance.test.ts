import assert from 'node:assert/strict';
import {
  BmsClient,
  BmsLink,
  ControlError,
  SWITCH_NAMES,
  downloadHistory,
  historyToCsv,
  readClock,
  readInverterProtocol,
  readParameters,
  restoreFactoryDefaults,
  restoreGroups,
  setClock,
  setSwitch,
  writeGroups,
  writeInverterProtocol,
  type HistoryCursor,
} from '../../src/link';
import { planParameters } from '../../src/protocol';
import { defaultParameters } from '../../src/sim/defaults';
import { startSim, type RunningSim } from '../helpers/sim';

const CTX = { cellCount: 16, ratedCurrent: 120 };
const writes = (sim: RunningSim): string[] =>
  sim.bank.received
    .map((r) => r.command)
    .filter((c) => /^(write|restore|clear|chargeMos|dischargeMos|switch|shutdown)/.test(c));

describe('maintenance over the link (parameters, history, clock, switches, inverter protocol)', function () {
  this.timeout(60_000);
  let sim: RunningSim;
  let link: BmsLink;
  let client: BmsClient;
  let t: number;

  beforeEach(async () => {
    t = new Date(2026, 10, 21, 12, 0, 0).getTime();
    sim = await startSim({ packs: 1, current: 0, historyRecords: 500, now: () => t }, { latencyMs: 1 });
    link = BmsLink.acquire({ port: sim.tcp, timeoutMs: 500, gapMs: 1 });
    client = new BmsClient(link, { dialect: 'pace' });
  });
  afterEach(async () => {
    await link.release();
    await sim.stop();
  });

  describe('parameters', () => {
    it('reads every group in SI units, discharge over-current positive', async () => {
      const set = await readParameters(client);
      const factory = defaultParameters();
      assert.deepEqual(set.cellOverVoltage, factory.cellOverVoltage);
      assert.deepEqual(set.dischargeOverCurrent1, { ...factory.dischargeOverCurrent1, alarm: 105, protect: 110 });
      assert.equal(Object.keys(set).length, 16);
      assert.equal(writes(sim).length, 0);
    });

    it('writes planned groups whole, reads them back, and the pack holds the new values', async () => {
      const before = await readParameters(client);
      // Lower cell protection needs the pack protection below 16 × it, too.
      const plan = planParameters(
        before,
        {
          cellOverVoltage: { alarm: 3.55, protect: 3.65 },
          packOverVoltage: { protect: 58.4 },
          dischargeOverCurrent1: { alarm: 100 },
        },
        CTX,
      );
      const result = await writeGroups(client, undefined, before, plan);
      assert.deepEqual(result, {
        ok: true,
        written: ['cellOverVoltage', 'packOverVoltage', 'dischargeOverCurrent1'],
        unacknowledged: [],
        notWritten: [],
      });
      assert.deepEqual(sim.bank.pack(1).parameters.cellOverVoltage, {
        enabled: true,
        alarm: 3.55,
        protect: 3.65,
        release: 3.38,
        delay: 1,
      });
      // Written positive, stored (and read back) negative, as a real pack does.
      assert.equal(sim.bank.pack(1).parameters.dischargeOverCurrent1?.alarm, -100);
      assert.deepEqual(writes(sim), ['writeCellOverVoltage', 'writePackOverVoltage', 'writeDischargeOverCurrent1']);
    });

    it('stops at a refusal and at a read-back mismatch, says what was written, and a rollback restores it', async () => {
      const before = await readParameters(client);
      const plan = planParameters(
        before,
        { cellOverVoltage: { protect: 3.65 }, packOverVoltage: { protect: 58 }, balancing: { startVoltage: 3.45 } },
        CTX,
      );
      sim.bank.pack(1).refusedWrites.add('packOverVoltage');
      const refused = await writeGroups(client, undefined, before, plan);
      assert.equal(refused.ok, false);
      assert.deepEqual(refused.written, ['cellOverVoltage']);
      assert.deepEqual(refused.notWritten, ['packOverVoltage', 'balancing']);
      assert.equal(refused.failed?.kind, 'refused');
      assert.match(refused.failed.reason, /^the pack refused packOverVoltage/);
      assert.ok(!writes(sim).includes('writeBalancing'));

      const rollback = await restoreGroups(client, undefined, before, refused.written);
      assert.equal(rollback.ok, true);
      assert.deepEqual(sim.bank.pack(1).parameters.cellOverVoltage, defaultParameters().cellOverVoltage);

      sim.bank.pack(1).refusedWrites.clear();
      sim.bank.pack(1).ignoredWrites.add('packOverVoltage');
      const mismatch = await writeGroups(client, undefined, before, plan);
      assert.equal(mismatch.failed?.kind, 'mismatch');
      assert.deepEqual(mismatch.failed.mismatches, [{ field: 'packOverVoltage.protect', wrote: 58, read: 59.2 }]);
      assert.deepEqual(mismatch.written, ['cellOverVoltage']);
    });

    it('restores the factory parameters with 0xA4', async () => {
      sim.bank.pack(1).parameters.balancing = { startVoltage: 3.5, deltaVoltage: 0.05 };
      await restoreFactoryDefaults(client);
      assert.deepEqual((await readParameters(client)).balancing, defaultParameters().balancing);
    });
  });

  describe('history', () => {
    it('downloads 500 records newest first with progress; an interrupted download resumes without gaps or duplicates, also after new records', async () => {
      const truth = sim.bank.pack(1).history.map((r) => r.time);
      assert.equal(truth.length, 500);
      const stop = new AbortController();
      const progress: number[] = [];
      const first = await downloadHistory(client, {
        signal: stop.signal,
        onProgress: ({ done }) => {
          progress.push(done);
          if (done === 200) stop.abort();
        },
      });
      assert.equal(first.records.length, 200);
      assert.match(first.error ?? '', /stopped/);
      assert.deepEqual(
        progress,
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal(first.cursor.complete, false);

      // 30 minutes later the pack has stored 3 more records (and dropped its 3 oldest).
      t += 30 * 60_000;
      sim.bank.advance();
      const now = sim.bank.pack(1).history.map((r) => r.time);
      const second = await downloadHistory(client, { cursor: first.cursor });
      assert.equal(second.error, undefined);
      assert.equal(second.cursor.complete, true);
      const all = [...first.records, ...second.records].map((r) => r.time);
      assert.equal(new Set(all).size, all.length, 'no duplicates');
      // Every record the pack holds now was delivered exactly once (the 3 that fell off were delivered before or never).
      for (const time of now) assert.ok(all.includes(time), `missing ${time}`);
      assert.equal(second.records.length, 3 + (500 - 200 - 3));
      // Resuming skipped the 200 known records with a few reads, not 200.
      assert.ok(second.reads < 3 + 297 + 15, String(second.reads));
      // A third download finds nothing new, cheaply.
      const third = await downloadHistory(client, { cursor: second.cursor });
      assert.equal(third.records.length, 0);
      assert.ok(third.reads <= 3, String(third.reads));
      // Values are the simulator's.
      const newest = sim.bank.pack(1).history[0];
      assert.deepEqual(second.records[0], newest);
    });

    it('writes CSV with a column per cell and temperature', async () => {
      const { records } = await downloadHistory(client, {
        maxRecords: 2,
        cursor: { times: [], complete: false } satisfies HistoryCursor,
      });
      const csv = historyToCsv(records).split('\n');
      assert.equal(
        csv[0],
        [
          'time',
          'voltage',
          'current',
          'remainingAh',
          'fullAh',
          'cycles',
          ...Array.from({ length: 16 }, (_, i) => `cell${i + 1}`),
          ...Array.from({ length: 6 }, (_, i) => `temp${i + 1}`),
          'alarms',
          'protections',
          'faults',
        ].join(','),
      );
      assert.equal(csv.length, 4);
      assert.ok(csv[1]?.startsWith(`${String(records[0]?.time)},${String(records[0]?.voltage)},`));
    });
  });

  describe('clock', () => {
    it('reads the drift against the host and sets the clock from host time', async () => {
      sim.bank.pack(1).clockOffsetMs = -95_000;
      const drifted = await readClock(client, undefined, () => t);
      assert.equal(drifted.driftSeconds, -95);
      const set = await setClock(client, undefined, () => t);
      assert.equal(set.driftSeconds, 0);
      assert.equal(set.time, '2026-11-21T12:00:00');
    });
  });

  describe('switches', () => {
    it("every switch both ways, each confirmed by the pack's own status", async () => {
      for (const name of SWITCH_NAMES) {
        for (const on of [false, true]) {
          const result = await setSwitch(client, undefined, name, on);
          assert.deepEqual(result, { switch: name, requested: on, reported: on }, `${name} ${String(on)}`);
        }
      }
    });

    it('a MOSFET with current through it is refused (RTN 09): an error, not a success', async () => {
      sim.bank.setCurrent(-20);
      await assert.rejects(
        setSwitch(client, undefined, 'dischargeMos', false),
        (err: unknown) =>
          err instanceof ControlError &&
          err.kind === 'refused' &&
          /refused to switch dischargeMos off \(current is flowing/.test(err.message),
      );
      assert.equal(sim.bank.pack(1).dischargeAllowed(), true);
    });

    it('a switch the pack does not apply is reported as not applied', async () => {
      // A firmware with the opposite LED polarity: the pack inverts what it is told.
      const pack = sim.bank.pack(1);
      const original = pack.switchControl.bind(pack);
      pack.switchControl = (code: number): boolean => original(code === 0x06 ? 0x07 : code === 0x07 ? 0x06 : code);
      await assert.rejects(
        setSwitch(client, undefined, 'ledAlarm', false),
        /ledAlarm is still on after the command \(some firmware uses the opposite polarity/,
      );
    });
  });

  describe('inverter protocol', () => {
    it('reads codes with names and writes by name or code, verified', async () => {
      assert.deepEqual(await readInverterProtocol(client), {
        can: { code: 1, name: 'Pylon' },
        rs485: { code: 1, name: 'Pylon 485' },
        manual: false,
      });
      const set = await writeInverterProtocol(client, undefined, { can: 'victron', rs485: 0x0d });
      assert.deepEqual(
        [set.can, set.rs485],
        [
          { code: 3, name: 'Victron' },
          { code: 0x0d, name: 'WOW / SRNE' },
        ],
      );
      await assert.rejects(
        writeInverterProtocol(client, undefined, { can: 'Tesla' }),
        /unknown CAN protocol "Tesla" \(one of: PACE, Pylon, Growatt, Victron, /,
      );
    });
  });
});
