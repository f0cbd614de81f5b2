import assert from 'node:assert/strict';
import {
  BankPoller,
  BmsClient,
  BmsLink,
  detect,
  type BankCycle,
  type BankMode,
  type PackReading,
} from '../../src/link';
import { SimBus, SimulatedBank, type PaceTailBytes, type SimBusOptions } from '../../src/sim';
import { next, startSim, type RunningSim } from '../helpers/sim';
import { cyclesEvery, fakeTime, type FakeTime } from '../helpers/wire';

/** Every value a reading carries must be one the simulator actually sent for that pack. */
function assertTrue(sim: RunningSim, reading: PackReading): void {
  if (!reading.analog) return;
  const { pack: _pack, ...values } = reading.analog;
  const sent = sim.bank.truthFor(reading.pack).map((t) => t.analog);
  assert.ok(
    sent.some((t) => JSON.stringify(t) === JSON.stringify(values)),
    `pack ${reading.pack}: a value the simulator never sent: ${JSON.stringify(values)}`,
  );
}

const LINK = { baudRate: 115200, timeoutMs: 250, gapMs: 2, retries: 1, reconnectMinMs: 50, reconnectMaxMs: 300 };

describe('detection and polling against the simulator', function () {
  this.timeout(60_000);

  for (const transport of ['tcp', 'pty'] as const) {
    for (const packs of [1, 3, 15]) {
      it(`detects ${packs} pack(s) over ${transport} and reads them in both modes`, async () => {
        const sim = await startSim({ packs, current: 12 }, { pty: transport === 'pty' });
        const link = BmsLink.acquire({ port: transport === 'tcp' ? sim.tcp : sim.pty!, ...LINK });
        try {
          const detection = await detect(link, { scanAddresses: true, probeTimeoutMs: 150 });
          assert.equal(detection.dialect, 'pace');
          assert.equal(detection.mode, 'broadcast');
          assert.deepEqual(
            detection.packs,
            Array.from({ length: packs }, (_, i) => i + 1),
          );
          assert.equal(detection.firmware, 'P16S100A-SIM-1.00');
          assert.equal(detection.serial, sim.bank.pack(1).serial);
          const client = new BmsClient(link, { dialect: detection.dialect });
          for (const mode of ['broadcast', 'relay'] as BankMode[]) {
            const poller: BankPoller = new BankPoller(client, {
              mode,
              packs: detection.packs,
              identity: mode === 'relay',
            });
            const cycle: BankCycle = await poller.pollNow();
            assert.equal(cycle.packs.length, packs);
            for (const reading of cycle.packs) {
              assert.equal(reading.online, true, `${mode} pack ${reading.pack}`);
              assert.equal(reading.analog?.cellVoltages.length, 16);
              assert.deepEqual(reading.alarms?.protections, sim.bank.pack(reading.pack).alarms().protections);
              assertTrue(sim, reading);
              if (mode === 'relay') assert.equal(reading.identity?.serial, sim.bank.pack(reading.pack).serial);
            }
          }
        } finally {
          await link.release();
          await sim.stop();
        }
      });
    }
  }

  it('finds a PACE bank whose packs claim protocol version 0x26 and reads it in that version', async () => {
    const sim = await startSim({ packs: 2, quirks: { version: 0x26 } });
    const link = BmsLink.acquire({ port: sim.tcp, ...LINK });
    try {
      const detection = await detect(link, { probeTimeoutMs: 150 });
      assert.deepEqual([detection.dialect, detection.version, detection.packs], ['pace', 0x26, [1, 2]]);
      const poller = new BankPoller(new BmsClient(link, { dialect: 'pace', version: detection.version }), {
        mode: detection.mode,
        packs: detection.packs,
        identity: false,
      });
      for (const reading of (await poller.pollNow()).packs) {
        assert.equal(reading.online, true);
        assertTrue(sim, reading);
      }
    } finally {
      await link.release();
      await sim.stop();
    }
  });

  it('finds Pylontech modules from address 2', async () => {
    const sim = await startSim({ packs: 3, dialect: 'pylontech' });
    const link = BmsLink.acquire({ port: sim.tcp, ...LINK });
    try {
      const detection = await detect(link, { probeTimeoutMs: 150 });
      assert.equal(detection.dialect, 'pylontech');
      assert.equal(detection.mode, 'broadcast');
      assert.deepEqual(detection.packs, [1, 2, 3]);
      const poller = new BankPoller(new BmsClient(link, { dialect: 'pylontech' }), {
        mode: 'broadcast',
        packs: detection.packs,
      });
      for (const reading of (await poller.pollNow()).packs) {
        assertTrue(sim, reading);
        // The BMS's own limits (0x92), as the simulator sends them.
        assert.deepEqual(reading.limits, {
          chargeVoltage: 56.8,
          chargeCurrent: 37,
          dischargeCurrent: -37,
          chargeEnabled: true,
          dischargeEnabled: true,
        });
      }
    } finally {
      await link.release();
      await sim.stop();
    }
  });
});

describe('bank poller (fake time, simulated wire)', function () {
  this.timeout(60_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let bus: SimBus;
  let link: BmsLink;
  let client: BmsClient;
  let port = 0;

  const setUp = (options: ConstructorParameters<typeof SimulatedBank>[0] = {}, bus_: SimBusOptions = {}): void => {
    bank = new SimulatedBank({ packs: 3, current: -20, ...options });
    bus = new SimBus(bank, { latencyMs: 30, ...bus_ });
    link = BmsLink.acquire({ port: `tcp://poller.test:${String(++port)}`, transportFactory: bus.factory });
    client = new BmsClient(link, { dialect: 'pace' });
  };

  beforeEach(() => {
    time = fakeTime();
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  /** Cycles as a running poller makes them: one every interval. */
  const cycles = (poller: BankPoller, n: number, intervalMs = 5000): Promise<BankCycle[]> =>
    cyclesEvery(time, poller, n, intervalMs);

  for (const mode of ['broadcast', 'relay'] as BankMode[]) {
    it(`${mode}: one lost poll keeps every pack online; a pack silent for 3 poll intervals goes offline, is retried slowly and comes back`, async () => {
      setUp();
      const poller = new BankPoller(client, { mode, packs: [1, 2, 3], offlineRetryEvery: 2, identity: false });
      await cycles(poller, 1);
      // One whole poll lost (both attempts): nothing changes for anyone.
      const lost = bus.stats.requests + 1;
      bus.script = (n) => (n === lost || n === lost + 1 ? { drop: true } : undefined);
      const [glitch] = await cycles(poller, 1);
      assert.ok(
        glitch!.packs.every((p) => p.online && p.status === 'online'),
        JSON.stringify(glitch!.packs.map((p) => [p.pack, p.status, p.error])),
      );
      assert.ok(link.stats.timeouts >= 1);
      bus.script = undefined;
      await cycles(poller, 1);

      bank.setOffline(2, true);
      const silentSince = poller.readings().find((r) => r.pack === 2)!.updatedAt!;
      const offline = next<PackReading>(poller, 'offline');
      const seen: [number, boolean][] = [];
      for (const cycle of await cycles(poller, 4)) {
        const two = cycle.packs.find((p) => p.pack === 2)!;
        seen.push([cycle.startedAt + cycle.durationMs - silentSince, two.online]);
        assert.ok(two.analog, 'the last good values are kept, with their age');
        assert.equal(cycle.packs.find((p) => p.pack === 1)?.online, true);
      }
      // Online while silent for less than 3 intervals (15 s), offline from then on.
      for (const [silentMs, online] of seen)
        assert.equal(online, silentMs < 15_000, `silent ${String(silentMs)} ms: online ${String(online)}`);
      assert.deepEqual(
        seen.slice(0, 2).map(([, o]) => o),
        [true, true],
        'two lost polls in a row do not drop it',
      );
      assert.equal(seen.at(-1)?.[1], false);
      const event = await offline;
      assert.equal(event.pack, 2);
      assert.equal(event.status, 'offline');
      assert.match(event.error ?? '', mode === 'broadcast' ? /master reports pack 2 unreachable/ : /no reply/);
      if (mode === 'relay') {
        // Retried every 2nd cycle: one cycle asks pack 2 nothing.
        const asked = (): number => bus.sent().filter((t) => t.slice(3, 5) === '02').length;
        const before = asked();
        await cycles(poller, 2);
        assert.equal(asked() - before, 2, 'one attempt and its retry in two cycles');
      }
      bank.setOffline(2, false);
      const online = next<PackReading>(poller, 'online');
      await cycles(poller, 2);
      assert.equal((await online).pack, 2);
      assert.equal(poller.readings().find((r) => r.pack === 2)?.online, true);
    });
  }

  it('relay: a cycle longer than 3 poll intervals never drops a pack (the interval stretches to the cycle)', async () => {
    // 15 packs at 9600 Bd with a slow BMS: a cycle takes far longer than 3 × 1 s.
    setUp({ packs: 15 }, { latencyMs: 400 });
    const poller = new BankPoller(client, {
      mode: 'relay',
      packs: Array.from({ length: 15 }, (_, i) => i + 1),
      intervalMs: 1000,
      identity: false,
    });
    const offline: number[] = [];
    poller.on('offline', (r: PackReading) => offline.push(r.pack));
    const run = await cycles(poller, 4, 1000);
    assert.ok(run[0]!.durationMs > 3 * 1000, `cycle ${String(run[0]!.durationMs)} ms`);
    for (const cycle of run)
      assert.ok(
        cycle.packs.every((p) => p.online),
        JSON.stringify(cycle.packs.filter((p) => !p.online).map((p) => p.pack)),
      );
    assert.deepEqual(offline, []);
    assert.ok(run.at(-1)!.packs.every((p) => p.staleAfterMs >= 3 * run[0]!.durationMs));
  });

  it('broadcast: packs the master starts reporting are taken in, and the change is told', async () => {
    setUp({ packs: 4 });
    bank.setPresent(4, false);
    const poller = new BankPoller(client, { mode: 'broadcast', packs: [1, 2, 3], identity: false });
    const [first] = await cycles(poller, 1);
    assert.deepEqual(
      first!.packs.map((p) => p.pack),
      [1, 2, 3],
    );
    bank.setPresent(4, true);
    const change = next<{ added: number[]; packs: number[] }>(poller, 'packs');
    const [second] = await cycles(poller, 1);
    assert.deepEqual(await change, { added: [4], packs: [1, 2, 3, 4] });
    const four = second!.packs.find((p) => p.pack === 4);
    assert.deepEqual([four?.online, four?.analog?.cellVoltages], [true, bank.truthFor(4).at(-1)?.analog.cellVoltages]);
  });

  it('tells a silent bank (asleep) from a lost pack, and wakes sleeping packs with a first request', async () => {
    setUp();
    const poller = new BankPoller(client, {
      mode: 'relay',
      packs: [1, 2, 3],
      offlineAfter: 2,
      identity: false,
      wakeAfterIdleMs: 60_000,
    });
    await cycles(poller, 1);
    bus.faults.dropRate = 1;
    const asleep = next<PackReading>(poller, 'asleep');
    await cycles(poller, 3);
    assert.equal((await asleep).status, 'asleep');
    assert.ok(poller.readings().every((r) => r.status === 'asleep'));
    bus.faults.dropRate = 0;
    // A pack that sleeps ignores the first request and answers the next: the retry wakes it.
    // Silent packs are retried every 5th cycle, so within 5 cycles all are back.
    bank.setAsleep(3, true);
    const back = next<PackReading>(poller, 'online');
    for (let i = 0; i < 5 && !poller.readings().every((r) => r.online); i++) await cycles(poller, 1);
    await back;
    assert.ok(
      poller.readings().every((r) => r.online),
      JSON.stringify(poller.readings().map((r) => [r.pack, r.status, r.error])),
    );
    assert.equal(bank.asleep.has(3), false, 'pack 3 was woken');
  });

  it('stop abandons the cycle in progress at once: nothing more is reported and its requests leave the queue', async () => {
    setUp({ packs: 15 }, { latencyMs: 200 });
    const poller = new BankPoller(client, {
      mode: 'relay',
      packs: Array.from({ length: 15 }, (_, i) => i + 1),
      identity: false,
    });
    const reported: unknown[] = [];
    poller.on('cycle', (c: unknown) => reported.push(c));
    const cycle = poller.pollNow();
    cycle.catch(() => undefined);
    await time.advance(300);
    const requests = bus.stats.requests;
    await poller.stop();
    await assert.rejects(time.run(cycle), /stopped|abandoned/);
    await time.advance(20_000);
    assert.equal(reported.length, 0);
    assert.ok(bus.stats.requests <= requests + 1, 'at most the request already on the wire');
  });

  const shapes: { tail: PaceTailBytes; status: 36 | 37 | 41 }[] = [
    { tail: 2, status: 36 },
    { tail: 3, status: 37 },
    { tail: 12, status: 37 },
    { tail: 16, status: 41 },
    { tail: 24, status: 36 },
  ];
  for (const { tail, status } of shapes) {
    it(`soak (${String(tail)}-byte 0x42 tails, ${String(status)}-byte 0x44 blocks): under late, dropped, corrupt, garbled and echoed replies and silence bursts, no value or alarm state differs from what the simulator sent`, async () => {
      setUp(
        { packs: 3, analogTailBytes: tail, alarmBlockBytes: status },
        {
          faults: {
            corruptRate: 0.08,
            dropRate: 0.05,
            lateRate: 0.1,
            lateMs: 1200 + tail * 50,
            garbageRate: 0.15,
            echo: true,
          },
          seed: tail * 100 + status,
        },
      );
      bus.shared.halfDuplex = true;
      const emitted: PackReading[] = [];
      for (const mode of ['broadcast', 'relay'] as BankMode[]) {
        const poller = new BankPoller(client, { mode, packs: [1, 2, 3], identity: false });
        poller.on('pack', (r: PackReading) => emitted.push(r));
        for (let i = 0; i < 40; i++) {
          bank.setCurrent(((i % 7) - 3) * 10);
          if (i % 13 === 12) bus.silence(3000);
          await cycles(poller, 1);
        }
      }
      const stats = bus.stats;
      assert.ok(
        stats.late > 5 && stats.corrupted > 3 && stats.dropped > 3 && stats.garbageBursts > 5 && stats.silenced > 0,
        JSON.stringify(stats),
      );
      assert.ok(link.stats.late + link.stats.foreign > 3, JSON.stringify(link.stats));
      assert.equal(stats.collisions, 0, 'never sent while the bank was still sending');
      assert.ok(emitted.filter((r) => r.online).length > 150, String(emitted.filter((r) => r.online).length));
      let wrong = 0;
      for (const reading of emitted) {
        if (!sentByBank(bank, reading)) wrong++;
      }
      assert.equal(wrong, 0, 'readings with values or states the simulator never sent');
    });
  }
});

/** Whether every value and alarm state of a reading is one the simulator sent for that pack. */
function sentByBank(bank: SimulatedBank, reading: PackReading): boolean {
  if (reading.analog) {
    const { pack: _pack, ...values } = reading.analog;
    if (!bank.truthFor(reading.pack).some((t) => JSON.stringify(t.analog) === JSON.stringify(values))) return false;
  }
  if (reading.alarms) {
    const state = JSON.stringify(reading.alarms);
    if (!bank.alarmsSentFor(reading.pack).some((a) => JSON.stringify(a) === state)) return false;
  }
  return true;
}

describe('bank poller over TCP (the real socket stack)', function () {
  this.timeout(60_000);

  it('keeps polling through a disconnect and resumes when the port returns', async () => {
    const sim = await startSim({ packs: 3 });
    const link = BmsLink.acquire({ port: sim.tcp, ...LINK });
    const poller = new BankPoller(new BmsClient(link, { dialect: 'pace' }), {
      mode: 'broadcast',
      packs: [1, 2, 3],
      intervalMs: 20,
      identity: false,
    });
    poller.start();
    try {
      await next(poller, 'cycle');
      await sim.server.disconnect(100);
      let cycle = await next<{ packs: PackReading[] }>(poller, 'cycle');
      while (!cycle.packs.every((p) => p.online)) cycle = await next<{ packs: PackReading[] }>(poller, 'cycle');
      for (const reading of cycle.packs) assertTrue(sim, reading);
    } finally {
      await poller.stop();
      await link.close();
      await sim.stop();
    }
  });
});
