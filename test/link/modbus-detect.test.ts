import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { BankConnection, BmsLink, LinkError, detect, type BankCycle, type Transport } from '../../src/link';
import { encodeReadReplyPdu, encodeRtu } from '../../src/protocol';
import { ModbusBank, SimBus, SimServer, SimulatedBank, type SimResponder } from '../../src/sim';
import { next } from '../helpers/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

/** A port where the master pack scans its slaves every 300 ms and nothing answers us: the link jack. */
class LinkJack extends EventEmitter implements Transport {
  readonly description = 'the link jack between packs';
  private timer: NodeJS.Timeout | undefined;
  private slave = 2;

  open(): Promise<void> {
    this.timer = setInterval(() => {
      const address = (this.slave++ % 15) + 1;
      const frames: Record<number, string> = {
        2: '~250246900000FDA4',
        14: '~250E46900000FD91',
        15: '~250F46900000FD90',
      };
      this.emit('data', Buffer.from(`${frames[address] ?? frames[2] ?? ''}\r`, 'latin1'));
    }, 300);
    return Promise.resolve();
  }

  write(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return Promise.resolve();
  }
}

/** Another map answering function 0x03 (another protocol setting): values no PACE pack has. */
class OtherMap implements SimResponder {
  readonly framing = 'rtu' as const;
  handle(text: string): { reply?: string } {
    const unit = parseInt(text.slice(0, 2), 16);
    const count = parseInt(text.slice(12, 14), 16);
    // Every register 0xFFFF, as a pack with another map answered for its parameters.
    const pdu = encodeReadReplyPdu(new Array<number>(count).fill(0xffff));
    return unit === 1 ? { reply: Buffer.from(encodeRtu(unit, pdu)).toString('latin1') } : {};
  }
}

describe('detection: PACE Modbus told apart from the ASCII protocols and from what only looks like it', function () {
  this.timeout(120_000);

  describe('on a simulated bus (fake time)', () => {
    let time: FakeTime;
    let link: BmsLink | undefined;
    let port = 0;
    beforeEach(() => {
      time = fakeTime();
    });
    afterEach(async () => {
      await link?.close();
      link = undefined;
      time.restore();
    });
    const open = (factory: () => Transport): BmsLink => {
      link = BmsLink.acquire({ port: `tcp://detect-modbus.test:${String(++port)}`, transportFactory: factory });
      return link;
    };

    it('finds a PACE Modbus bank after the ASCII probes: every address that answers, pack by pack, its identity', async () => {
      const bank = new SimulatedBank({ packs: 3, current: -10 });
      const bus = new SimBus(new ModbusBank(bank), { latencyMs: 30 });
      const found = await time.run(detect(open(bus.factory)));
      assert.equal(found.dialect, 'pace-modbus');
      assert.equal(found.mode, 'relay');
      assert.deepEqual(found.packs, [1, 2, 3]);
      assert.equal(found.serial, bank.pack(1).serial);
      assert.equal(found.firmware, bank.pack(1).firmware);
    });

    it('an ASCII PACE bank is still found as PACE, never as Modbus', async () => {
      const bank = new SimulatedBank({ packs: 2 });
      const bus = new SimBus(bank, { latencyMs: 30 });
      const found = await time.run(detect(open(bus.factory)));
      assert.equal(found.dialect, 'pace');
    });

    it('a pack answering 0x03 with another map is not taken for PACE Modbus', async () => {
      const bus = new SimBus(new OtherMap(), { latencyMs: 30 });
      const failed = await time.run(detect(open(bus.factory))).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed instanceof LinkError && failed.kind === 'timeout', String(failed));
      assert.match(failed.message, /PACE Modbus/);
    });

    it("refuses to guess on the link jack, where the master's own scans are seen, and says where to connect", async () => {
      const failed = await time.run(detect(open(() => new LinkJack()))).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed instanceof LinkError && failed.kind === 'config', String(failed));
      assert.match(failed.message, /link jack between packs/);
    });
  });

  describe('through the real serialport stack and a Modbus-TCP gateway', () => {
    let server: SimServer | undefined;
    let connection: BankConnection | undefined;
    afterEach(async () => {
      await connection?.stop();
      await server?.stop();
      connection = undefined;
      server = undefined;
    });

    it('a 4-pack bus on a pty, RTU at 19200 Bd: the connection polls every pack', async () => {
      const bank = new SimulatedBank({ packs: 4, current: -15 });
      server = new SimServer({ bank: new ModbusBank(bank), pty: true, baudRate: 19200, latencyMs: 10 });
      const { pty } = await server.start();
      assert.ok(pty);
      connection = new BankConnection({ port: pty, baudRate: 19200, dialect: 'pace-modbus', packs: [1, 2, 3, 4] });
      const cycle = next<BankCycle>(connection, 'cycle');
      connection.start();
      const { packs } = await cycle;
      assert.deepEqual(
        packs.map((p) => [p.pack, p.online]),
        [
          [1, true],
          [2, true],
          [3, true],
          [4, true],
        ],
      );
      assert.ok(packs.every((p) => p.analog?.cellVoltages.length === 16));
    });

    it('a Modbus-TCP gateway (modbus-tcp://): discovered packs, MBAP framing', async () => {
      const bank = new SimulatedBank({ packs: 15, current: 5 });
      server = new SimServer({ bank: new ModbusBank(bank, { framing: 'mbap' }), baudRate: 115200, latencyMs: 5 });
      const { tcp } = await server.start();
      connection = new BankConnection({ port: tcp.replace(/^tcp:/, 'modbus-tcp:'), dialect: 'pace-modbus' });
      const cycle = next<BankCycle>(connection, 'cycle');
      connection.start();
      const { packs } = await cycle;
      assert.equal(packs.length, 15);
      assert.ok(packs.every((p) => p.online));
    });
  });
});
