import assert from 'node:assert/strict';
import { BankPoller, BmsClient, BmsLink, detect, type BankCycle, type BankMode, type PackReading } from '../../src/link';
import { next, startSim, type RunningSim } from '../helpers/sim';

/** Every value a reading carries must be one the simulator actually sent for that pack. */
function assertTrue(sim: RunningSim, reading: PackReading): void {
  if (!reading.analog) return;
  const { pack: _pack, ...values } = reading.analog;
  const sent = sim.bank.truthFor(reading.pack).map((t) => t.analog);
  assert.ok(sent.some((t) => JSON.stringify(t) === JSON.stringify(values)), `pack ${reading.pack}: a value the simulator never sent: ${JSON.stringify(values)}`);
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
          assert.deepEqual(detection.packs, Array.from({ length: packs }, (_, i) => i + 1));
          assert.equal(detection.firmware, 'P16S100A-SIM-1.00');
          assert.equal(detection.serial, sim.bank.pack(1).serial);
          const client = new BmsClient(link, { dialect: detection.dialect });
          for (const mode of ['broadcast', 'relay'] as BankMode[]) {
            const poller: BankPoller = new BankPoller(client, { mode, packs: detection.packs, identity: mode === 'relay' });
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

  it('finds Pylontech modules from address 2', async () => {
    const sim = await startSim({ packs: 3, dialect: 'pylontech' });
    const link = BmsLink.acquire({ port: sim.tcp, ...LINK });
    try {
      const detection = await detect(link, { probeTimeoutMs: 150 });
      assert.equal(detection.dialect, 'pylontech');
      assert.equal(detection.mode, 'broadcast');
      assert.deepEqual(detection.packs, [1, 2, 3]);
      const poller = new BankPoller(new BmsClient(link, { dialect: 'pylontech' }), { mode: 'broadcast', packs: detection.packs });
      for (const reading of (await poller.pollNow()).packs) {
        assertTrue(sim, reading);
        // The BMS's own limits (0x92), as the simulator sends them.
        assert.deepEqual(reading.limits, { chargeVoltage: 56.8, chargeCurrent: 37, dischargeCurrent: 37, chargeEnabled: true, dischargeEnabled: true });
      }
    } finally {
      await link.release();
      await sim.stop();
    }
  });
});

describe('bank poller', function () {
  this.timeout(60_000);
  let sim: RunningSim;
  let link: BmsLink;
  let client: BmsClient;

  beforeEach(async () => {
    sim = await startSim({ packs: 3 });
    link = BmsLink.acquire({ port: sim.tcp, ...LINK });
    client = new BmsClient(link, { dialect: 'pace' });
  });
  afterEach(async () => {
    await link.close();
    await sim.stop();
  });

  for (const mode of ['broadcast', 'relay'] as BankMode[]) {
    it(`${mode}: a lost pack goes offline after 3 failures, is retried slowly and comes back online`, async () => {
      const poller = new BankPoller(client, { mode, packs: [1, 2, 3], offlineAfter: 3, offlineRetryEvery: 2, identity: false });
      await poller.pollNow();
      sim.bank.setOffline(2, true);
      const offline = next<PackReading>(poller, 'offline');
      const requestsBefore = sim.server.stats.requests;
      for (let i = 0; i < 3; i++) {
        const cycle = await poller.pollNow();
        const two = cycle.packs.find((p) => p.pack === 2)!;
        assert.equal(two.online, false);
        assert.ok(two.analog, 'the last good values are kept, with their age');
        assert.ok((two.ageMs ?? 0) > 0);
        assert.equal(cycle.packs.find((p) => p.pack === 1)?.online, true);
      }
      const event = await offline;
      assert.equal(event.pack, 2);
      assert.equal(event.status, 'offline');
      assert.match(event.error ?? '', mode === 'broadcast' ? /master reports pack 2 unreachable/ : /no reply/);
      if (mode === 'relay') {
        // Retried every 2nd cycle: one cycle skips pack 2 entirely.
        const before = sim.server.stats.requests;
        await poller.pollNow();
        const perCycle = sim.server.stats.requests - before;
        assert.ok(perCycle < (before - requestsBefore) / 3, `offline pack skipped (${perCycle} requests)`);
      }
      sim.bank.setOffline(2, false);
      const online = next<PackReading>(poller, 'online');
      await poller.pollNow();
      await poller.pollNow();
      assert.equal((await online).pack, 2);
      assert.equal(poller.readings().find((r) => r.pack === 2)?.online, true);
    });
  }

  it('tells a silent bank (asleep) from a lost pack, and wakes sleeping packs with a first request', async () => {
    const poller = new BankPoller(client, { mode: 'relay', packs: [1, 2, 3], offlineAfter: 2, identity: false, wakeAfterIdleMs: 60_000 });
    await poller.pollNow();
    sim.server.faults.dropRate = 1;
    const asleep = next<PackReading>(poller, 'asleep');
    await poller.pollNow();
    await poller.pollNow();
    assert.equal((await asleep).status, 'asleep');
    assert.ok(poller.readings().every((r) => r.status === 'asleep'));
    sim.server.faults.dropRate = 0;
    // A pack that sleeps ignores the first request and answers the next: the retry wakes it.
    // Silent packs are retried every 5th cycle, so within 5 cycles all are back.
    sim.bank.setAsleep(3, true);
    const back = next<PackReading>(poller, 'online');
    for (let i = 0; i < 5 && !poller.readings().every((r) => r.online); i++) await poller.pollNow();
    await back;
    assert.ok(poller.readings().every((r) => r.online), JSON.stringify(poller.readings().map((r) => [r.pack, r.status, r.error])));
    assert.equal(sim.bank.asleep.has(3), false, 'pack 3 was woken');
  });

  it('keeps polling through a disconnect and resumes when the port returns', async () => {
    const poller = new BankPoller(client, { mode: 'broadcast', packs: [1, 2, 3], intervalMs: 20, identity: false });
    poller.start();
    try {
      await next(poller, 'cycle');
      await sim.server.disconnect(100);
      let cycle = await next<{ packs: PackReading[] }>(poller, 'cycle');
      while (!cycle.packs.every((p) => p.online)) cycle = await next<{ packs: PackReading[] }>(poller, 'cycle');
      for (const reading of cycle.packs) assertTrue(sim, reading);
    } finally {
      await poller.stop();
    }
  });

  it('under corrupt, dropped, delayed, garbled and echoed replies no value ever differs from the simulator\'s', async () => {
    Object.assign(sim.server.faults, { corruptRate: 0.15, dropRate: 0.1, garbageRate: 0.2, echo: true });
    const emitted: PackReading[] = [];
    for (const mode of ['broadcast', 'relay'] as BankMode[]) {
      const poller = new BankPoller(client, { mode, packs: [1, 2, 3], identity: false });
      poller.on('pack', (r: PackReading) => emitted.push(r));
      for (let i = 0; i < 15; i++) {
        sim.bank.setCurrent(((i % 7) - 3) * 10);
        sim.server.faults.delayMs = i % 5 === 4 ? 300 : 0;
        await poller.pollNow();
      }
    }
    assert.ok(sim.server.stats.corrupted > 3 && sim.server.stats.dropped > 3 && sim.server.stats.garbageBursts > 3, JSON.stringify(sim.server.stats));
    assert.ok(link.stats.checksumErrors > 0 && link.stats.timeouts > 0 && link.stats.echoes > 0, JSON.stringify(link.stats));
    assert.ok(emitted.filter((r) => r.online).length > 60);
    for (const reading of emitted) assertTrue(sim, reading);
  });
});
