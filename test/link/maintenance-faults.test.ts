import assert from 'node:assert/strict';
import {
  BmsClient,
  BmsLink,
  ParameterJobError,
  clearHistory,
  runParameterJob,
  setClock,
  setStorageInterval,
  setSwitch,
  type AuditRecord,
  type PackOutcome,
  type ParameterJob,
} from '../../src/link';
import { SimBus, SimulatedBank } from '../../src/sim';
import { defaultParameters } from '../../src/sim/defaults';
import { fakeTime, type FakeTime } from '../helpers/wire';

const CHANGE = { packUnderVoltage: { delay: 2 } };
const INTENDED = { ...defaultParameters(), packUnderVoltage: { ...defaultParameters().packUnderVoltage, delay: 2 } };
const JOB: ParameterJob = { packs: [1], action: 'write', desired: CHANGE, apply: true };

let port = 0;

describe('maintenance jobs under late replies (fake time, scripted wire)', function () {
  this.timeout(120_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let bus: SimBus;
  let link: BmsLink;
  let client: BmsClient;
  let audits: AuditRecord[];
  const hooks = {
    backup: () => 'backup.json',
    audit: (r: AuditRecord) => {
      audits.push(r);
    },
  };

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 1, current: 0 });
    bus = new SimBus(bank, { latencyMs: 30 });
    // The link as shipped: 1000 ms timeout, 50 ms gap, one retry, 500 ms settle.
    link = BmsLink.acquire({ port: `tcp://maintenance.test:${String(++port)}`, transportFactory: bus.factory });
    client = new BmsClient(link, { dialect: 'pace' });
    audits = [];
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  const run = async (job: ParameterJob): Promise<PackOutcome[] | ParameterJobError> => {
    try {
      return await time.run(runParameterJob(client, job, hooks));
    } catch (err) {
      if (err instanceof ParameterJobError) return err;
      throw err;
    }
  };

  it('a clean change of packUnderVoltage.delay: exactly that group written, read back twice, audited', async () => {
    const outcome = await run(JOB);
    assert.ok(Array.isArray(outcome));
    assert.deepEqual(bank.pack(1).parameters, INTENDED);
    assert.deepEqual(outcome[0]?.result?.written, ['packUnderVoltage']);
    assert.equal(audits.at(-1)?.result, 'applied and verified');
    const commands = bank.received.map((r) => r.command);
    assert.deepEqual(
      commands.filter((c) => c.startsWith('write')),
      ['writePackUnderVoltage'],
    );
    // Every group read twice before, the written one twice after.
    assert.equal(commands.filter((c) => c === 'readPackUnderVoltage').length, 4);
    assert.equal(commands.filter((c) => c === 'readCellOverVoltage').length, 2);
  });

  /** A new bank on a new wire and link: what a job left on the wire must not reach the next one. */
  const fresh = async (): Promise<void> => {
    await link.close();
    bank = new SimulatedBank({ packs: 1, current: 0 });
    bus = new SimBus(bank, { latencyMs: 30 });
    link = BmsLink.acquire({ port: `tcp://maintenance.test:${String(++port)}`, transportFactory: bus.factory });
    client = new BmsClient(link, { dialect: 'pace' });
    audits = [];
  };

  for (const lateMs of [1080, 1600, 2600]) {
    it(`one reply ${String(lateMs)} ms late, at every position of the job: nothing written when it came before the write, the change verified when after; the audit says which`, async () => {
      await run(JOB);
      const requests = bus.stats.requests;
      const writeAt = bus.written.findIndex((w) => w.text.slice(7, 9) === 'D6') + 1;
      for (let k = 1; k <= requests + 2; k++) {
        await fresh();
        bus.script = (n) => (n === k ? { extraDelayMs: lateMs - 30 } : undefined);
        const outcome = await run(JOB);
        const result = audits.at(-1)?.result ?? '';
        if (k < writeAt) {
          assert.deepEqual(
            bank.pack(1).parameters,
            defaultParameters(),
            `k=${String(k)}: disturbed before the write, nothing is written`,
          );
          assert.ok(outcome instanceof ParameterJobError, `k=${String(k)}`);
          assert.match(result, /^(not written: the bus was disturbed|failed: no reply)/, `k=${String(k)}: ${result}`);
          assert.ok(
            !bank.received.some((r) => r.command.startsWith('write')),
            `k=${String(k)}: no write frame reached the pack`,
          );
        } else {
          assert.deepEqual(bank.pack(1).parameters, INTENDED, `k=${String(k)}: exactly the intended change`);
          assert.ok(Array.isArray(outcome), `k=${String(k)}: ${outcome instanceof Error ? outcome.message : ''}`);
          assert.match(
            result,
            k === writeAt ? /^applied and verified \(acknowledgement lost/ : /^applied and verified$/,
            `k=${String(k)}: ${result}`,
          );
        }
      }
    });
  }

  it('the acknowledgement of the write lost: the read-back shows it written, and the audit says so', async () => {
    await run(JOB);
    const writeAt = bus.written.findIndex((w) => w.text.slice(7, 9) === 'D6');
    await fresh();
    bus.script = (n) => (n === writeAt + 1 ? { drop: true } : undefined);
    const outcome = await run(JOB);
    assert.ok(Array.isArray(outcome));
    assert.deepEqual(bank.pack(1).parameters, INTENDED);
    assert.deepEqual(outcome[0]?.result?.unacknowledged, ['packUnderVoltage']);
    assert.match(audits.at(-1)?.result ?? '', /^applied and verified \(acknowledgement lost for packUnderVoltage/);
  });

  it('two confirmed jobs on the same pack at once run one after the other: both changes land, each says what it wrote', async () => {
    const other: ParameterJob = {
      packs: [1],
      action: 'write',
      desired: { cellUnderVoltage: { delay: 3 } },
      apply: true,
    };
    const [a, b] = await time.run(
      Promise.all([runParameterJob(client, JOB, hooks), runParameterJob(client, other, hooks)]),
    );
    assert.deepEqual(a[0]?.result?.written, ['packUnderVoltage']);
    assert.deepEqual(b[0]?.result?.written, ['cellUnderVoltage']);
    assert.equal(bank.pack(1).parameters.packUnderVoltage?.delay, 2);
    assert.equal(bank.pack(1).parameters.cellUnderVoltage?.delay, 3);
    // The second job read the pack after the first had written: its backup holds the first change.
    const backupOfSecond = b.at(0)?.parameters;
    assert.equal(backupOfSecond?.packUnderVoltage?.delay, 2);
    const writes = bank.received.map((r) => r.command).filter((c) => c.startsWith('write'));
    assert.deepEqual(writes, ['writePackUnderVoltage', 'writeCellUnderVoltage']);
  });

  it('polling waits while a job has the bus: no poll request goes between its reads and its write', async () => {
    const poll = (): Promise<unknown> => client.call('analog', { pack: 1 }, { address: 1 }).catch(() => undefined);
    const job = runParameterJob(client, JOB, hooks);
    const polls = Promise.all([poll(), poll(), poll()]);
    await time.run(Promise.all([job, polls]));
    const commands = bank.received.map((r) => r.command);
    const firstRead = commands.indexOf('readCellOverVoltage');
    const lastRead = commands.lastIndexOf('readPackUnderVoltage');
    assert.ok(!commands.slice(firstRead, lastRead).includes('analog'), commands.join(' '));
  });

  it('switches, clock, storage interval and history clear confirm by two agreeing reads, also when the acknowledgement is lost', async () => {
    const dropNext = (): void => {
      const at = bus.stats.requests + 1;
      bus.script = (n) => (n === at ? { drop: true } : undefined);
    };
    dropNext();
    assert.deepEqual(await time.run(setSwitch(client, 1, 'buzzer', false)), {
      switch: 'buzzer',
      requested: false,
      reported: false,
    });
    dropNext();
    bank.pack(1).clockOffsetMs = -3_600_000;
    // The clock has whole seconds at both ends: within 2 s of the host is set.
    assert.ok(Math.abs((await time.run(setClock(client, 1))).driftSeconds) <= 2);
    dropNext();
    assert.equal(await time.run(setStorageInterval(client, 1, 5)), 5);
    dropNext();
    await time.run(clearHistory(client, 1));
    assert.equal(bank.pack(1).history.length, 0);
    // Each change was sent once: a lost acknowledgement is never answered by writing again.
    const writes = bank.received
      .map((r) => r.command)
      .filter((c) => /^(switchControl|writeClock|writeStorageInterval|clearHistory)$/.test(c));
    assert.deepEqual(writes, ['switchControl', 'writeClock', 'writeStorageInterval', 'clearHistory']);
  });
});
