import assert from 'node:assert/strict';
import {
  BmsLink,
  ModbusClient,
  ParameterJobError,
  runParameterJob,
  writeIdentity,
  type AuditRecord,
  type IdentityChange,
  type JobHooks,
  type PackOutcome,
} from '../../src/link';
import { MODBUS_PARAMETER_GROUPS, ParameterError, WRITE_MULTIPLE, decodeModbusParameters } from '../../src/protocol';
import { ModbusBank, SimBus, SimulatedBank } from '../../src/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

/**
 * Parameters of PACE Modbus packs through the same job as the ASCII protocol: validated, planned
 * against what the pack holds, backed up, written group by group with 0x10 and read back.
 */
describe('parameter jobs on PACE Modbus packs (fake time, simulated bus)', function () {
  this.timeout(60_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let packs: ModbusBank;
  let link: BmsLink;
  let client: ModbusClient;
  let audits: AuditRecord[];
  let backups: number;
  let port = 0;
  const hooks: JobHooks = {
    backup: () => `backup-${String(++backups)}.json`,
    audit: (record) => audits.push(record),
  };

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 2, current: 0 });
    packs = new ModbusBank(bank);
    const bus = new SimBus(packs, { latencyMs: 30 });
    link = BmsLink.acquire({ port: `tcp://modbus-params.test:${String(++port)}`, transportFactory: bus.factory });
    client = new ModbusClient(link);
    audits = [];
    backups = 0;
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  const writes = (): number => packs.asked.filter((a) => a.function === WRITE_MULTIPLE).length;
  const run = (job: Parameters<typeof runParameterJob>[1]): Promise<PackOutcome[]> =>
    time.run(runParameterJob(client, job, hooks));

  it('reads every group the map has, in SI units as the ASCII protocol gives them, with the capacity', async () => {
    const [outcome] = await run({ packs: [2], action: 'read', apply: false });
    assert.ok(outcome);
    assert.deepEqual(Object.keys(outcome.parameters).sort(), MODBUS_PARAMETER_GROUPS.map((g) => g.group).sort());
    const regs = packs.registers(2);
    assert.deepEqual(outcome.parameters, decodeModbusParameters(regs));
    assert.equal(
      outcome.parameters.dischargeOverCurrent1?.protect,
      Math.abs(Number(bank.pack(2).parameters.dischargeOverCurrent1?.protect)),
    );
    assert.equal(outcome.capacity?.designAh, bank.pack(2).designAh);
  });

  it('writes a change, reads it back, and the pack holds it; split groups go in two writes', async () => {
    const [outcome] = await run({
      packs: [1],
      action: 'write',
      apply: true,
      desired: { cellOverVoltage: { protect: 3.71 }, overCurrent2: { chargeProtect: 160 } },
    });
    assert.ok(outcome?.result?.ok, JSON.stringify(outcome?.result));
    assert.deepEqual(outcome.result.written, ['cellOverVoltage', 'overCurrent2']);
    assert.equal(bank.pack(1).parameters.cellOverVoltage?.protect, 3.71);
    assert.equal(bank.pack(1).parameters.overCurrent2?.chargeProtect, 160);
    assert.equal(writes(), 3, 'cellOverVoltage in one write, overCurrent2 in two (82–83 and 113–114)');
    assert.equal(backups, 1);
    assert.match(audits.at(-1)?.result ?? '', /^applied and verified/);
  });

  it('refuses what the map cannot hold before writing anything: enable flags, the limiter current, restoring defaults', async () => {
    for (const desired of [{ cellOverVoltage: { enabled: false } }, { limiterCurrent: { current: 20 } }]) {
      const failed = await run({ packs: [1], action: 'write', apply: true, desired }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed instanceof ParameterJobError, String(failed));
    }
    const defaults = await run({ packs: [1], action: 'restoreDefaults', apply: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(defaults instanceof ParameterJobError && /no restore-defaults command/.test(defaults.message));
    assert.equal(writes(), 0);
    assert.equal(backups, 0);
  });

  it('a pack that refuses a write (exception 03) is reported as refusing, and what was written before is said', async () => {
    bank.pack(1).refusedWrites.add('balancing');
    const failed = await run({
      packs: [1],
      action: 'write',
      apply: true,
      desired: { cellOverVoltage: { alarm: 3.58 }, balancing: { startVoltage: 3.42 } },
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof ParameterJobError, String(failed));
    const result = failed.outcomes[0]?.result;
    assert.equal(result?.failed?.kind, 'refused');
    assert.deepEqual(result.written, ['cellOverVoltage']);
    assert.deepEqual(result.notWritten, ['balancing']);
    assert.match(result.failed.reason, /exception 0x03 \(illegal data value\)/);
  });

  it('serial numbers are written only when asked, then read back; the firmware text and bad serials are refused', async () => {
    const outcome = await time.run(writeIdentity(client, 2, { packSerial: 'GARAGE-02' }, hooks.audit));
    assert.equal(outcome.after.packSerial, 'GARAGE-02');
    assert.equal(outcome.after.serial, bank.pack(2).serial, 'the BMS serial is left as it was');
    assert.equal(writes(), 1);
    assert.match(audits.at(-1)?.result ?? '', /^written and verified: packSerial .* → "GARAGE-02"/);
    for (const bad of [
      { serial: '' },
      { serial: 'x'.repeat(21) },
      { serial: 'tab\there' },
      { packSerial: 7 },
      { firmware: 'X' },
      {},
    ]) {
      const failed = await time.run(writeIdentity(client, 2, bad as IdentityChange, hooks.audit)).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed instanceof ParameterError, JSON.stringify(bad));
    }
    assert.equal(writes(), 1, 'nothing written for a bad request');
    const ascii = {
      dialect: 'pace' as const,
      call: client.call.bind(client),
      exclusive: client.exclusive.bind(client),
    };
    await assert.rejects(time.run(writeIdentity(ascii, 2, { serial: 'A' }, hooks.audit)), /PACE Modbus packs only/);
  });

  it('a pack that acknowledges but keeps its old values is caught by the read-back', async () => {
    bank.pack(2).ignoredWrites.add('sleep');
    const failed = await run({
      packs: [2],
      action: 'write',
      apply: true,
      desired: { sleep: { cellVoltage: 3.05 } },
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof ParameterJobError, String(failed));
    assert.equal(failed.outcomes[0]?.result?.failed?.kind, 'mismatch');
  });
});
