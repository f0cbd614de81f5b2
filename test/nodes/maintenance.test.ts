import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecord, ClockReading, PackOutcome, SwitchResult } from '../../src/link';
import { defaultParameters } from '../../src/sim/defaults';
import { NODES, events, helper, linkConfig, nextMessage, node, startServer, stopServer } from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';

interface Msg<T> {
  payload: T;
  error?: { message: string };
  count?: number;
  complete?: boolean;
}

const isWrite = (command: string): boolean =>
  /^(write|restore|clear|chargeMos|dischargeMos|switchControl|shutdown)/.test(command);

describe('maintenance nodes: bms-params, bms-history, bms-control', function () {
  this.timeout(60_000);
  let sim: RunningSim;
  let userDir: string;

  before(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir });
    await startServer();
  });
  after(async () => {
    await stopServer();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    sim = await startSim({ packs: 2, current: 0, historyRecords: 500 }, { latencyMs: 1 });
  });
  afterEach(async () => {
    await helper.unload();
    await sim.stop();
  });

  const writesSent = (): string[] => sim.bank.received.map((r) => r.command).filter(isWrite);

  async function load(nodeDef: object, options: { allowWrites?: unknown; password?: string } = {}): Promise<void> {
    await helper.load(
      NODES,
      [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp, { allowWrites: options.allowWrites ?? true, interval: '5' }),
        { z: 'f', link: 'l', wires: [['out'], ['audit']], ...nodeDef },
        { id: 'out', type: 'helper', z: 'f' },
        { id: 'audit', type: 'helper', z: 'f' },
        { id: 'c', type: 'catch', z: 'f', scope: ['n'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f' },
      ],
      options.password === undefined ? {} : { n: { password: options.password } },
    );
  }

  async function refusal(msg: object): Promise<string> {
    const caught = nextMessage<Msg<unknown>>('caught');
    node('n').receive(msg);
    return (await caught).error?.message ?? '';
  }

  describe('bms-params', () => {
    const params = { id: 'n', type: 'bms-params', pack: '1', mode: 'dry-run', rating: '', topic: 'bms/params' };

    it('refuses every bad request with a one-line reason and writes nothing', async () => {
      await load(params, { password: 'secret' });
      const table: [object, RegExp][] = [
        [{ payload: { cellOverVoltage: { protect: 5 } }, confirm: true }, /outside 2\.5…4\.5 V/],
        [
          { payload: { cellOverVoltage: { alarm: 3.7, protect: 3.65 } }, confirm: true },
          /alarm \(3\.7\) must be below cellOverVoltage\.protect/,
        ],
        [{ payload: { cellUnderVoltage: { protect: 2.9 } }, confirm: true }, /must be below cellUnderVoltage\.alarm/],
        [{ payload: { balancing: { startVoltage: Number.NaN } }, confirm: true }, /finite number, not NaN/],
        [{ payload: { sleep: { delay: Infinity } }, confirm: true }, /finite number, not Infinity/],
        [{ payload: { cellOverVoltage: { protect: '3.65' } }, confirm: true }, /must be a number, not "3\.65"/],
        [
          { payload: { cellOverVoltage: { protekt: 3.65 } }, confirm: true },
          /unknown parameter cellOverVoltage\.protekt/,
        ],
        [
          { payload: { chargeOverCurrent: { protect: 150 } }, confirm: true },
          /must be below overCurrent2\.chargeProtect|exceeds the pack rating/,
        ],
        [{ action: 'format', payload: {} }, /unknown msg\.action "format"/],
        [
          { payload: { balancing: { startVoltage: 3.45 } }, pack: 16, confirm: true },
          /pack must be an address 1\.\.15/,
        ],
      ];
      for (const [msg, reason] of table) {
        const message = await refusal(msg);
        assert.match(message, /^Error: bms-params: /);
        assert.match(message, reason, JSON.stringify(msg));
        assert.ok(!message.includes('\n'));
      }
      assert.deepEqual(writesSent(), []);
    });

    it('without the admin password, or with writes off on the link, a confirmed change sends nothing', async () => {
      await load(params);
      assert.match(
        await refusal({ payload: { balancing: { startVoltage: 3.45 } }, confirm: true }),
        /no admin password is set on this node/,
      );
      await helper.unload();
      await load(params, { password: 'secret', allowWrites: false });
      assert.match(
        await refusal({ payload: { balancing: { startVoltage: 3.45 } }, confirm: true }),
        /writes are off for this bms-link/,
      );
      assert.deepEqual(writesSent(), []);
    });

    it('reads every parameter group in SI units, with the capacity (from a flow that sets nothing but the link)', async () => {
      await load({ id: 'n', type: 'bms-params' });
      const read = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ payload: null });
      const outcome = (await read).payload;
      const factory = defaultParameters();
      assert.deepEqual(Object.keys(outcome.parameters).sort(), Object.keys(factory).sort());
      assert.deepEqual(outcome.parameters.cellHighTemperature, factory.cellHighTemperature);
      assert.deepEqual(outcome.parameters.dischargeOverCurrent1, {
        ...factory.dischargeOverCurrent1,
        alarm: 105,
        protect: 110,
      });
      assert.equal(outcome.capacity?.designAh, 100);
      assert.equal(outcome.capacity.fullAh, Math.round(sim.bank.pack(1).fullAh * 100) / 100);
      assert.equal(outcome.serial, sim.bank.pack(1).serial);
    });

    it('plans a change as a dry run, then writes, reads back, backs up and audits it on confirm', async () => {
      await load(params, { password: 'secret' });
      const audits: AuditRecord[] = [];
      (node('audit') as unknown as NodeJS.EventEmitter).on('input', (m: Msg<AuditRecord>) => {
        audits.push(m.payload);
      });
      const dry = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ payload: { balancing: { startVoltage: 3.45, deltaVoltage: 0.02 } } });
      const plan = (await dry).payload;
      assert.equal(plan.dryRun, true);
      assert.deepEqual(plan.plan?.changes, [
        { field: 'balancing.startVoltage', from: 3.4, to: 3.45 },
        { field: 'balancing.deltaVoltage', from: 0.03, to: 0.02 },
      ]);
      assert.deepEqual(plan.plan.groups, ['balancing']);
      assert.deepEqual(writesSent(), []);

      const applied = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ payload: { balancing: { startVoltage: 3.45, deltaVoltage: 0.02 } }, confirm: true });
      const result = (await applied).payload;
      assert.deepEqual(result.result, { ok: true, written: ['balancing'], unacknowledged: [], notWritten: [] });
      assert.deepEqual(sim.bank.pack(1).parameters.balancing, { startVoltage: 3.45, deltaVoltage: 0.02 });
      assert.deepEqual(writesSent(), ['writeBalancing']);
      const backup = JSON.parse(readFileSync(result.backupFile ?? '', 'utf8')) as {
        serial: string;
        parameters: { balancing: object };
      };
      assert.equal(backup.serial, sim.bank.pack(1).serial);
      assert.deepEqual(backup.parameters.balancing, defaultParameters().balancing);
      assert.deepEqual(
        audits.map((a) => [a.pack, a.serial, a.result]),
        [
          [1, sim.bank.pack(1).serial, 'dry run'],
          [1, sim.bank.pack(1).serial, 'applied and verified'],
        ],
      );
      assert.ok(existsSync(join(userDir, 'lifepo4-bms', 'audit.jsonl')));
    });

    it('stops at a value that reads back different, says what was written, and the backup rolls it back', async () => {
      await load({ ...params, pack: '1,2' }, { password: 'secret' });
      sim.bank.pack(1).ignoredWrites.add('packOverVoltage');
      const partial = nextMessage<Msg<PackOutcome[]>>('out');
      const message = await refusal({
        payload: { cellOverVoltage: { protect: 3.65 }, packOverVoltage: { protect: 58 } },
        confirm: true,
      });
      assert.match(
        message,
        /^Error: bms-params: pack 1: packOverVoltage reads back different: packOverVoltage\.protect wrote 58, pack has 59\.2; written: cellOverVoltage; not written: packOverVoltage \(backup in .*\)$/,
      );
      // Pack 2 was never touched: the batch stopped at pack 1.
      assert.ok(!sim.bank.received.some((r) => isWrite(r.command) && r.address === 2));
      const outcome = (await partial).payload[0];
      assert.equal(sim.bank.pack(1).parameters.cellOverVoltage?.protect, 3.65);
      const backup = JSON.parse(readFileSync(outcome?.backupFile ?? '', 'utf8')) as object;
      sim.bank.pack(1).ignoredWrites.clear();
      const restored = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ action: 'rollback', payload: backup, pack: 1, confirm: true });
      const rollback = (await restored).payload;
      assert.deepEqual(rollback.plan?.changes, [{ field: 'cellOverVoltage.protect', from: 3.65, to: 3.7 }]);
      assert.deepEqual(rollback.result, { ok: true, written: ['cellOverVoltage'], unacknowledged: [], notWritten: [] });
      assert.deepEqual(sim.bank.pack(1).parameters.cellOverVoltage, defaultParameters().cellOverVoltage);
    });

    it('hostile flows and messages: a string "false" is not true, prototype names are no actions', async () => {
      await load(params, { password: 'secret', allowWrites: 'false' });
      assert.match(
        await refusal({ payload: { balancing: { startVoltage: 3.45 } }, confirm: true }),
        /writes are off for this bms-link/,
      );
      await helper.unload();
      await load(params, { password: 'secret' });
      for (const action of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
        const message = await refusal({ action, payload: { balancing: { startVoltage: 3.45 } }, confirm: true });
        assert.match(message, new RegExp(`^Error: bms-params: unknown msg\\.action "${action}"`));
      }
      const dry = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ payload: { balancing: { startVoltage: 3.45 } }, confirm: 'true' });
      assert.equal((await dry).payload.dryRun, true, 'confirm "true" (a string) is no confirmation');
      assert.deepEqual(writesSent(), []);
    });

    it('a pack serial that climbs out of the folder is made a plain file name: the backup stays in backups/', async () => {
      sim.bank.pack(1).serial = 'X/../../../../evil';
      await load(params, { password: 'secret' });
      const applied = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ payload: { balancing: { startVoltage: 3.45 } }, confirm: true });
      const file = (await applied).payload.backupFile ?? '';
      assert.equal(join(file, '..'), join(userDir, 'lifepo4-bms', 'backups'));
      assert.match(file, /params-X_+evil-/);
      assert.ok(!existsSync(join(userDir, '..', 'evil')));
    });

    it('two confirmed changes sent at once run one after the other: both land, each reports what it wrote', async () => {
      await load(params, { password: 'secret' });
      const results: PackOutcome[] = [];
      const both = new Promise<void>((resolve) => {
        events('out').on('input', (m: Msg<PackOutcome>) => {
          results.push(m.payload);
          if (results.length === 2) resolve();
        });
      });
      node('n').receive({ payload: { balancing: { startVoltage: 3.45 } }, confirm: true });
      node('n').receive({ payload: { cellUnderVoltage: { delay: 3 } }, confirm: true });
      await both;
      assert.deepEqual(
        results.map((r) => r.result?.written),
        [['balancing'], ['cellUnderVoltage']],
      );
      assert.equal(sim.bank.pack(1).parameters.balancing?.startVoltage, 3.45);
      assert.equal(sim.bank.pack(1).parameters.cellUnderVoltage?.delay, 3);
      assert.deepEqual(writesSent(), ['writeBalancing', 'writeCellUnderVoltage']);
    });

    for (const [when, nth, code] of [
      ['a read before the write', 1, 'D7'],
      ['the write itself', 1, 'D6'],
      ['the read-back', 3, 'D7'],
    ] as const) {
      it(`a reply late past the timeout at ${when}: the pack ends with exactly the change or nothing, and the audit says which`, async () => {
        await load(params, { password: 'secret' });
        const audits: AuditRecord[] = [];
        events('audit').on('input', (m: Msg<AuditRecord>) => {
          audits.push(m.payload);
        });
        let seen = 0;
        // 300 ms link timeout: this reply comes 400 ms late.
        sim.server.script = (_n, text) =>
          text.slice(7, 9) === code && ++seen === nth ? { extraDelayMs: 400 } : undefined;
        const outcome = nextMessage<Msg<PackOutcome | PackOutcome[]>>('out');
        const caught = nextMessage<Msg<unknown>>('caught');
        node('n').receive({ payload: { packUnderVoltage: { delay: 2 } }, confirm: true });
        const held = (): unknown => sim.bank.pack(1).parameters.packUnderVoltage;
        if (code === 'D7' && nth === 1) {
          assert.match(
            (await caught).error?.message ?? '',
            /^Error: bms-params: pack 1: the bus was disturbed while the pack was read .*nothing was written; try again$/,
          );
          assert.deepEqual(held(), defaultParameters().packUnderVoltage);
          assert.deepEqual(writesSent(), []);
          assert.match(audits.at(-1)?.result ?? '', /^not written: /);
        } else {
          const result = (await outcome).payload as PackOutcome;
          assert.deepEqual(result.result?.written, ['packUnderVoltage']);
          assert.deepEqual(held(), { ...defaultParameters().packUnderVoltage, delay: 2 });
          assert.match(
            audits.at(-1)?.result ?? '',
            code === 'D6' ? /^applied and verified \(acknowledgement lost/ : /^applied and verified$/,
          );
        }
        const stored = readFileSync(join(userDir, 'lifepo4-bms', 'audit.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as AuditRecord);
        assert.equal(stored.at(-1)?.result, audits.at(-1)?.result);
        sim.server.script = undefined;
      });
    }

    it('restores the factory parameters only on confirmation, and reports what changed', async () => {
      await load(params, { password: 'secret' });
      sim.bank.pack(1).parameters.balancing = { startVoltage: 3.5, deltaVoltage: 0.05 };
      const dry = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ action: 'restoreDefaults', payload: null });
      assert.equal((await dry).payload.dryRun, true);
      assert.deepEqual(writesSent(), []);
      const done = nextMessage<Msg<PackOutcome>>('out');
      node('n').receive({ action: 'restoreDefaults', payload: null, confirm: true });
      assert.deepEqual((await done).payload.changes, [
        { field: 'balancing.startVoltage', from: 3.5, to: 3.4 },
        { field: 'balancing.deltaVoltage', from: 0.05, to: 0.03 },
      ]);
    });
  });

  describe('bms-history', () => {
    it('downloads the 500-record log with progress, then only what is new', async () => {
      await load({
        id: 'n',
        type: 'bms-history',
        pack: '1',
        format: 'records',
        topic: 'bms/history',
        wires: [['out'], ['audit']],
      });
      const progress: number[] = [];
      (node('audit') as unknown as NodeJS.EventEmitter).on('input', (m: Msg<{ done: number }>) => {
        progress.push(m.payload.done);
      });
      const first = nextMessage<Msg<{ time: string }[]>>('out');
      node('n').receive({ payload: null });
      const records = await first;
      assert.equal(records.count, 500);
      assert.equal(records.complete, true);
      assert.deepEqual(
        records.payload.map((r) => r.time),
        sim.bank.pack(1).history.map((r) => r.time),
      );
      assert.ok(progress.length >= 50 && progress.at(-1) === 500, progress.join(','));
      const second = nextMessage<Msg<unknown[]>>('out');
      node('n').receive({ payload: null });
      assert.equal((await second).count, 0);
    });

    it('clears only with confirmation and reads / sets the storage interval', async () => {
      await load({
        id: 'n',
        type: 'bms-history',
        pack: '1',
        format: 'csv',
        topic: 'bms/history',
        wires: [['out'], ['audit']],
      });
      assert.match(await refusal({ action: 'clear', payload: null }), /send msg\.confirm = true/);
      assert.match(await refusal({ action: 'setInterval', payload: 500 }), /whole minutes, 0\.\.120/);
      assert.equal(sim.bank.pack(1).history.length, 500);
      const interval = nextMessage<Msg<{ intervalMinutes: number }>>('out');
      node('n').receive({ action: 'setInterval', payload: 5 });
      assert.equal((await interval).payload.intervalMinutes, 5);
      assert.equal(sim.bank.pack(1).storageIntervalMin, 5);
      const cleared = nextMessage<Msg<unknown>>('out');
      node('n').receive({ action: 'clear', payload: null, confirm: true });
      await cleared;
      assert.equal(sim.bank.pack(1).history.length, 0);
    });
  });

  describe('bms-control', () => {
    const control = {
      id: 'n',
      type: 'bms-control',
      pack: '1',
      dailyClock: false,
      topic: 'bms/control',
      wires: [['out']],
    };

    it('reads the clock drift and sets the clock from host time', async () => {
      await load(control);
      sim.bank.pack(1).clockOffsetMs = 3_600_000;
      const read = nextMessage<Msg<ClockReading>>('out');
      node('n').receive({ action: 'readClock' });
      const drift = (await read).payload.driftSeconds;
      assert.ok(Math.abs(drift - 3600) <= 2, String(drift));
      const set = nextMessage<Msg<ClockReading>>('out');
      node('n').receive({ action: 'setClock' });
      assert.ok(Math.abs((await set).payload.driftSeconds) <= 2);
      // Every pack the link polls, one message each.
      const replies: number[] = [];
      const both = new Promise<void>((resolve) => {
        (node('out') as unknown as NodeJS.EventEmitter).on('input', (m: { pack: number }) => {
          replies.push(m.pack);
          if (replies.length === 2) resolve();
        });
      });
      node('n').receive({ action: 'readClock', pack: 'all' });
      await both;
      assert.deepEqual(replies, [1, 2]);
    });

    it('switches with read-back; a refusal is an error; writes off sends nothing', async () => {
      await load(control);
      const off = nextMessage<Msg<SwitchResult>>('out');
      node('n').receive({ action: 'buzzer', payload: false });
      assert.deepEqual((await off).payload, { switch: 'buzzer', requested: false, reported: false });
      assert.equal(sim.bank.pack(1).controlState & 1, 0);
      sim.bank.setCurrent(-30);
      assert.match(
        await refusal({ action: 'dischargeMos', payload: false }),
        /^Error: bms-control: the pack refused to switch dischargeMos off/,
      );
      assert.match(await refusal({ action: 'shutdown' }), /send msg\.confirm = true/);
      await helper.unload();
      const before = writesSent().length;
      await load(control, { allowWrites: false });
      assert.match(await refusal({ action: 'chargeMos', payload: false }), /writes are off/);
      assert.equal(writesSent().length, before);
    });
  });
});
