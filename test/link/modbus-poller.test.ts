import assert from 'node:assert/strict';
import { BankPoller, BmsLink, ModbusClient, type BankCycle, type PackReading } from '../../src/link';
import { decodeModbusAlarms, decodeModbusAnalog } from '../../src/protocol';
import { ModbusBank, SimBus, SimulatedBank } from '../../src/sim';
import { next } from '../helpers/sim';
import { cyclesEvery, fakeTime, type FakeTime } from '../helpers/wire';

/**
 * The bank poller on a PACE Modbus bus (four packs on their own addresses, no master relaying them)
 * under fake time: the same readings, staleness and offline rules as on the ASCII protocols.
 */
describe('poller: a PACE Modbus bank, pack by pack (fake time, simulated bus)', function () {
  this.timeout(60_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let packs: ModbusBank;
  let bus: SimBus;
  let link: BmsLink;
  let port = 0;

  const setUp = (strictReserved = false): BankPoller => {
    bank = new SimulatedBank({ packs: 4, current: -24 });
    packs = new ModbusBank(bank, { strictReserved });
    bus = new SimBus(packs, { latencyMs: 30 });
    link = BmsLink.acquire({
      port: `tcp://modbus-poller.test:${String(++port)}`,
      transportFactory: bus.factory,
      gapMs: 100,
    });
    return new BankPoller(new ModbusClient(link), {
      mode: 'relay',
      packs: [1, 2, 3, 4],
      alarms: 'every',
      offlineRetryEvery: 2,
    });
  };

  beforeEach(() => {
    time = fakeTime();
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  const cycles = (poller: BankPoller, n: number, intervalMs = 5000): Promise<BankCycle[]> =>
    cyclesEvery(time, poller, n, intervalMs);

  it('reads every pack at its own address, one read per pack for values and flags, identity once', async () => {
    const poller = setUp();
    const [cycle] = await cycles(poller, 1);
    assert.ok(cycle);
    for (const reading of cycle.packs) {
      const sent = packs.lastRegisters.get(reading.pack);
      assert.ok(sent, `pack ${String(reading.pack)} was read`);
      assert.equal(reading.online, true);
      assert.deepEqual(reading.analog, decodeModbusAnalog(sent, reading.pack));
      const { pack: _pack, ...alarms } = decodeModbusAlarms(sent, reading.pack);
      assert.deepEqual(reading.alarms, alarms);
      assert.equal(reading.identity?.serial, bank.pack(reading.pack).serial);
      assert.equal(reading.identity.firmware, bank.pack(reading.pack).firmware);
    }
    const realtimeReads = packs.asked.filter((a) => a.start === 0 && a.count === 37);
    assert.deepEqual(
      realtimeReads.map((a) => a.unit).sort(),
      [1, 2, 3, 4],
      'alarms came with the values: one realtime read per pack',
    );
    await cycles(poller, 1);
    assert.equal(packs.asked.filter((a) => a.start === 150).length, 4, 'identity is read once per pack');
  });

  it('a pack silent for 3 poll intervals goes offline, the others stay online; it comes back', async () => {
    const poller = setUp();
    await cycles(poller, 1);
    bank.setOffline(3, true);
    const offline = next<PackReading>(poller, 'offline');
    const seen: boolean[] = [];
    for (const cycle of await cycles(poller, 4)) {
      seen.push(cycle.packs.find((p) => p.pack === 3)?.online ?? false);
      assert.ok(cycle.packs.filter((p) => p.pack !== 3).every((p) => p.online));
    }
    assert.deepEqual(seen.slice(0, 2), [true, true], 'two lost polls do not drop it');
    assert.equal(seen.at(-1), false);
    assert.equal((await offline).pack, 3);
    bank.setOffline(3, false);
    const online = next<PackReading>(poller, 'online');
    await cycles(poller, 3);
    assert.equal((await online).pack, 3);
  });

  it('firmware that refuses reserved registers is read in three blocks from then on, with the same values', async () => {
    const poller = setUp(true);
    const [cycle] = await cycles(poller, 1);
    assert.ok(cycle?.packs.every((p) => p.online));
    const blocks = packs.asked.filter((a) => a.unit === 2 && a.start < 60).map((a) => [a.start, a.count]);
    assert.deepEqual(blocks, [
      [0, 37],
      [0, 8],
      [9, 4],
      [15, 22],
    ]);
    await cycles(poller, 1);
    const again = packs.asked
      .filter((a) => a.unit === 2 && a.start < 60)
      .slice(4)
      .map((a) => [a.start, a.count]);
    assert.deepEqual(again, [
      [0, 8],
      [9, 4],
      [15, 22],
    ]);
    // Assembled from the three blocks: values, cells and flags all there.
    const two = cycle?.packs.find((p) => p.pack === 2);
    const sent = packs.lastRegisters.get(2);
    assert.ok(two?.analog && two.alarms && sent);
    const expected = decodeModbusAnalog(sent, 2);
    assert.equal(two.analog.cellVoltages.length, 16);
    assert.equal(two.analog.cycles, expected.cycles);
    assert.equal(two.analog.designAh, expected.designAh);
    assert.equal(two.alarms.chargeMos, decodeModbusAlarms(sent, 2).chargeMos);
  });
});
