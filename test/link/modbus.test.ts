import assert from 'node:assert/strict';
import { BmsLink, LinkError, ModbusClient, type ModbusFrame, type Reply } from '../../src/link';
import {
  MODBUS_PARAMETER_GROUPS,
  ModbusError,
  READ_HOLDING,
  WRITE_MULTIPLE,
  decodeModbusAnalog,
  decodeModbusIdentity,
  decodeModbusParameters,
  decodeReplyPdu,
  encodeModbusGroup,
  registersOf,
  replyRegisters,
  type ModbusRequest,
} from '../../src/protocol';
import { ModbusBank, SimBus, SimulatedBank } from '../../src/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

const read = (unit: number, start: number, count: number): ModbusRequest => ({
  unit,
  function: READ_HOLDING,
  start,
  count,
});
const registers = (request: ModbusRequest, reply: Reply<ModbusFrame>): readonly number[] =>
  replyRegisters(request, decodeReplyPdu(request, reply.frame.pdu));

/**
 * The link speaking PACE Modbus to a 4-pack bus (each pack on its own DIP address, no master
 * relaying) under fake time, with the faults a real bus has: damaged replies, a sleeping pack,
 * replies landing in the next request's window, exceptions.
 */
describe('link: PACE Modbus on one RS485 bus (fake time, simulated packs)', function () {
  this.timeout(60_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let packs: ModbusBank;
  let bus: SimBus;
  let link: BmsLink;
  let port = 0;

  const setUp = (options: { framing?: 'rtu' | 'mbap'; strictReserved?: boolean; echo?: boolean } = {}): void => {
    packs = new ModbusBank(bank, options);
    bus = new SimBus(packs, { latencyMs: 30, faults: { echo: options.echo ?? false } });
    const scheme = options.framing === 'mbap' ? 'modbus-tcp' : 'tcp';
    link = BmsLink.acquire({
      port: `${scheme}://modbus.test:${String(++port)}`,
      transportFactory: bus.factory,
      gapMs: 100,
      timeoutMs: 500,
    });
  };

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 4, current: -20 });
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  it('every pack answers for itself at its own address; what arrives decodes to what it sent', async () => {
    setUp();
    for (const unit of [1, 2, 3, 4]) {
      const request = read(unit, 0, 37);
      const reply = await time.run(link.requestModbus(request));
      assert.equal(reply.frame.unit, unit);
      const sent = packs.lastRegisters.get(unit);
      assert.ok(sent);
      assert.deepEqual(
        decodeModbusAnalog(registersOf(0, registers(request, reply)), unit),
        decodeModbusAnalog(sent, unit),
      );
    }
    assert.deepEqual(
      packs.asked.map((a) => a.unit),
      [1, 2, 3, 4],
    );
    // V1.3 asks for more than 100 ms between frames: never less than the gap between a reply and the next request.
    for (let i = 1; i < bus.written.length; i++) {
      const previousReply = bus.answers[i - 1];
      assert.ok(previousReply && (bus.written[i]?.at ?? 0) - previousReply.at >= 100);
    }
  });

  it('every field of the map through the simulator: what the pack holds, at register resolution', async () => {
    bank = new SimulatedBank({ packs: 4, current: 0 });
    setUp();
    const client = new ModbusClient(link);
    const pack = bank.pack(3);
    pack.injectedFaults.add('NTC');
    const truth = { ...pack.analog('pace', 5), pack: 3 };
    const state = pack.alarms('pace');
    const [analog] = (await time.run(client.call('analog', { pack: 3 }, { address: 3 }))).data.packs;
    const [alarms] = (await time.run(client.call('alarms', { pack: 3 }, { address: 3 }))).data.packs;
    assert.deepEqual(analog, {
      ...truth,
      // Register 1 carries 10 mV, SOH a whole percent: the rest is exact.
      voltage: Math.round(truth.voltage * 100) / 100,
      soh: truth.soh === null ? null : Math.round(truth.soh),
    });
    assert.ok(alarms);
    assert.deepEqual(alarms.faults, state.faults);
    assert.ok(alarms.faults.includes('NTC'));
    assert.deepEqual(alarms.alarms, state.alarms);
    assert.deepEqual(alarms.protections, state.protections);
    assert.deepEqual(alarms.balancingCells, state.balancingCells);
    assert.equal(alarms.chargeMos, state.chargeMos);
    assert.equal(alarms.dischargeMos, state.dischargeMos);
    const version = await time.run(client.call('version', {}, { address: 3 }));
    const serial = await time.run(client.call('serial', {}, { address: 3 }));
    assert.equal(version.data.version, pack.firmware);
    assert.equal(serial.data.bmsSerial, pack.serial);
    // Every parameter field, as the pack holds it (discharge over-current as a magnitude, no enable flags).
    for (const { group, fields } of MODBUS_PARAMETER_GROUPS) {
      const read = await time.run(
        client.call(`read${group.charAt(0).toUpperCase()}${group.slice(1)}`, {}, { address: 3 }),
      );
      for (const f of fields) {
        const held = Number(pack.parameters[group]?.[f.name]);
        assert.equal(
          read.data[f.name],
          group === 'dischargeOverCurrent1' ? Math.abs(held) : held,
          `${group}.${f.name}`,
        );
      }
    }
  });

  it('an exception is an answer, named: a reserved block is refused with 02 and nothing is retried', async () => {
    setUp({ strictReserved: true });
    const request = read(2, 0, 37);
    const reply = await time.run(link.requestModbus(request));
    assert.throws(
      () => registers(request, reply),
      (err: unknown) => err instanceof ModbusError && err.exception === 2,
    );
    assert.equal(reply.attempts, 1);
    // The same pack answers the blocks without reserved registers.
    const safe = read(2, 15, 22);
    assert.equal(registers(safe, await time.run(link.requestModbus(safe))).length, 22);
  });

  it('an RS485 adapter that echoes the request: the echo is recognised and the reply taken', async () => {
    setUp({ echo: true });
    const request = read(1, 0, 37);
    const reply = await time.run(link.requestModbus(request));
    assert.equal(registers(request, reply).length, 37);
    assert.equal(link.stats.echoes, 1);
    assert.equal(link.stats.garbageBytes, 0);
  });

  it('a reply with a bad CRC is no reply: the request is retried and the good one taken', async () => {
    setUp();
    bus.script = (n) => (n === 1 ? { corrupt: true } : undefined);
    const request = read(3, 0, 37);
    const reply = await time.run(link.requestModbus(request));
    assert.equal(reply.attempts, 2);
    assert.equal(link.stats.checksumErrors, 1);
    const sent = packs.lastRegisters.get(3);
    assert.ok(sent);
    assert.deepEqual(decodeModbusAnalog(registersOf(0, registers(request, reply)), 3), decodeModbusAnalog(sent, 3));
  });

  it('a sleeping pack is silence, not an exception: a timeout after the retries, and the others still answer', async () => {
    setUp();
    bank.setAsleep(2, true);
    const failed = await time.run(link.requestModbus(read(2, 0, 37), { retries: 1 })).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof LinkError && failed.kind === 'timeout', String(failed));
    assert.equal(link.stats.timeouts, 2);
    const reply = await time.run(link.requestModbus(read(4, 0, 37)));
    assert.equal(reply.frame.unit, 4);
  });

  it("a late reply landing in the next request's window is not taken for its answer", async () => {
    setUp();
    // The parameter read's reply comes after its timeout, while the realtime read waits.
    bus.script = (n) => (n === 1 ? { extraDelayMs: 700 } : undefined);
    const params = read(1, 60, 55);
    const failed = await time.run(link.requestModbus(params, { retries: 0 })).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof LinkError);
    const realtime = read(1, 0, 37);
    const reply = await time.run(link.requestModbus(realtime));
    assert.equal(registers(realtime, reply).length, 37);
    assert.equal(link.stats.late + link.stats.foreign, 1, 'the late parameter reply was seen and dropped');
  });

  it('replies of the same length cannot be told apart on RTU: after a late one the link syncs with another read first', async () => {
    setUp();
    bus.script = (n) => (n === 1 ? { extraDelayMs: 700 } : undefined);
    const firmware = read(1, 150, 10);
    await time.run(link.requestModbus(firmware, { retries: 0 })).catch(() => undefined);
    const serial = read(1, 160, 10);
    const reply = await time.run(link.requestModbus(serial, { sync: [read(1, 0, 37)] }));
    const identity = decodeModbusIdentity(registersOf(160, registers(serial, reply)));
    assert.equal(identity.serial, bank.pack(1).serial, 'the serial, not the late firmware reply');
    assert.equal(link.stats.syncs, 1);
  });

  it('without a read of another length to sync with, such a request fails unsent rather than risk the wrong answer', async () => {
    setUp();
    bus.script = (n) => (n === 1 ? { extraDelayMs: 700 } : undefined);
    await time.run(link.requestModbus(read(1, 150, 10), { retries: 0 })).catch(() => undefined);
    const failed = await time.run(link.requestModbus(read(1, 170, 10))).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failed instanceof LinkError && /not sent/.test(failed.message), String(failed));
  });

  it('writes a parameter group with 0x10, confirmed by its start and count, and the pack holds it', async () => {
    setUp();
    const runs = encodeModbusGroup('cellOverVoltage', { alarm: 3.55, protect: 3.65, release: 3.4, delay: 2 });
    assert.equal(runs.length, 1);
    const run = runs[0];
    assert.ok(run);
    const write: ModbusRequest = {
      unit: 2,
      function: WRITE_MULTIPLE,
      start: run.start,
      count: run.values.length,
      values: run.values,
    };
    const reply = await time.run(link.requestModbus(write));
    assert.deepEqual(decodeReplyPdu(write, reply.frame.pdu), { kind: 'written', start: 64, count: 4 });
    const back = read(2, 60, 55);
    const params = decodeModbusParameters(registersOf(60, registers(back, await time.run(link.requestModbus(back)))));
    assert.deepEqual(params.cellOverVoltage, { alarm: 3.55, protect: 3.65, release: 3.4, delay: 2 });
    assert.equal(bank.pack(2).parameters.cellOverVoltage?.protect, 3.65);
  });

  it('Modbus-TCP: MBAP frames with a transaction each; a late reply of an old transaction is dropped', async () => {
    setUp({ framing: 'mbap' });
    bus.script = (n) => (n === 1 ? { extraDelayMs: 700 } : undefined);
    await time.run(link.requestModbus(read(1, 0, 37), { retries: 0 })).catch(() => undefined);
    const request = read(1, 0, 37);
    const reply = await time.run(link.requestModbus(request));
    assert.equal(reply.frame.transaction, 2);
    assert.equal(registers(request, reply).length, 37);
    assert.equal(link.stats.late + link.stats.foreign, 1);
    assert.equal(Buffer.from(bus.written[0]?.text ?? '', 'latin1').toString('hex'), '000100000006010300000025');
  });
});
