import assert from 'node:assert/strict';
import { PylonCanSender, type CanSenderOptions, type SenderReport } from '../../src/inverter/can-sender';
import { pylonFamily, type InverterFrame, type PylonFamily } from '../../src/protocol/pylon-can';
import { SimulatedBank } from '../../src/sim';
import { RecordingCanPort, readAsInverter } from '../helpers/inverter';
import { simInputs } from '../helpers/venus';
import { fakeTime, type FakeTime } from '../helpers/wire';

const family = (id: string): PylonFamily => {
  const f = pylonFamily(id);
  assert.ok(f);
  return f;
};

const identity = {
  manufacturer: 'LFPBANK',
  product: 'LFP-BMS',
  firmware: { major: 1, minor: 0 },
  forceChargeSoc: null,
};

describe('PylonCanSender: periods, keep-alive, stale data (fake time)', () => {
  let time: FakeTime;
  let port: RecordingCanPort;
  let sim: SimulatedBank;
  let sender: PylonCanSender;
  let reports: SenderReport[];

  const make = (options: Partial<CanSenderOptions> = {}): PylonCanSender => {
    const s = new PylonCanSender(port, {
      family: family('pylon'),
      identity,
      limits: { kind: 'control' },
      pollIntervalMs: 5000,
      ...options,
    });
    s.on('report', (r: SenderReport) => reports.push(r));
    return s;
  };

  /** The bank polled every 5 s for `seconds`, the inverter's keep-alive every second while `alive()`. */
  const run = async (seconds: number, opts: { feed?: () => boolean; alive?: () => boolean } = {}): Promise<void> => {
    for (let s = 0; s < seconds; s++) {
      if (Date.now() % 5000 < 1000 && (opts.feed?.() ?? true)) sender.feed(simInputs(sim));
      if (opts.alive?.() ?? true) port.inverter(0x305);
      await time.advance(1000);
    }
  };

  beforeEach(() => {
    time = fakeTime(Date.UTC(2026, 11, 1, 12, 0, 0));
    port = new RecordingCanPort();
    sim = new SimulatedBank({ packs: 3, seed: 3, current: -20 });
    reports = [];
  });
  afterEach(() => {
    sender.stop();
    time.restore();
  });

  it('with the keep-alive coming: the whole set once a second, frames 10 ms apart in the family order', async () => {
    sender = make();
    sender.start();
    await run(10);
    const starts = port.setStarts();
    assert.ok(starts.length >= 9, String(starts.length));
    for (let i = 1; i < starts.length; i++) assert.equal((starts[i] ?? 0) - (starts[i - 1] ?? 0), 1000);
    const first = port.sent.filter((s) => s.at >= (starts[1] ?? 0) && s.at < (starts[2] ?? 0));
    assert.deepEqual(
      first.map((s) => s.frame.id),
      [0x351, 0x355, 0x356, 0x359, 0x35c, 0x35e],
    );
    assert.deepEqual(
      first.map((s) => s.at - (starts[1] ?? 0)),
      [0, 10, 20, 30, 40, 50],
    );
  });

  it('what the inverter reads is the bank: SOC, voltage, current, modules, charge and discharge allowed', async () => {
    sender = make();
    sender.start();
    await run(6);
    const truth = simInputs(sim);
    const read = readAsInverter(port.since(Date.now() - 1000));
    const volts = truth.map((p) => p.analog?.voltage ?? NaN);
    assert.equal(read.modules, 3);
    assert.equal(read.voltage, Math.round((volts.reduce((a, b) => a + b, 0) / 3) * 100) / 100);
    assert.equal(read.current, Math.round(truth.reduce((a, p) => a + (p.analog?.current ?? NaN), 0) * 10) / 10);
    assert.equal(read.chargeEnable, true);
    assert.equal(read.dischargeEnable, true);
    assert.ok((read.cvl ?? 0) > 50 && (read.cvl ?? 0) <= 3.45 * 16 + 0.05, String(read.cvl));
    assert.ok((read.dcl ?? 0) > 0);
    assert.equal(read.manufacturer, 'LFPBANK ');
  });

  it('no keep-alive: nothing but one probe set every 30 s; it starts once the inverter answers, and stops 15 s after it falls silent', async () => {
    sender = make();
    sender.start();
    await run(65, { alive: () => false });
    // Probes at the first period and every 30 s after.
    assert.deepEqual(
      port.setStarts().map((t) => (t - (port.setStarts()[0] ?? 0)) / 1000),
      [0, 30, 60],
    );
    assert.ok(reports.some((r) => r.sent === 'nothing' && r.why === 'waiting for the inverter'));
    const answered = Date.now();
    await run(10);
    assert.ok(port.setStarts().filter((t) => t >= answered).length >= 9);
    const silentFrom = Date.now();
    await run(40, { alive: () => false });
    const after = port
      .setStarts()
      .filter((t) => t >= silentFrom)
      .map((t) => (t - silentFrom) / 1000);
    // Sets while the keep-alive is at most 15 s old, then probes: one at once, the next 30 s later.
    assert.deepEqual(
      after.filter((t) => t <= 15),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    );
    assert.deepEqual(
      after.filter((t) => t > 15),
      [16],
    );
    await run(30, { alive: () => false });
    assert.deepEqual(
      port
        .setStarts()
        .filter((t) => t >= silentFrom)
        .map((t) => (t - silentFrom) / 1000)
        .filter((t) => t > 15),
      [16, 46],
    );
  });

  it('a family without a keep-alive requirement (option off) sends from the start', async () => {
    sender = make({ requireKeepAlive: false });
    sender.start();
    await run(5, { alive: () => false });
    assert.ok(port.setStarts().length >= 4);
  });

  it('stale bank: first charging stops (CCL 0, charge enable off, discharge held), then after 60 s nothing is sent; fresh data brings it back', async () => {
    sender = make();
    sender.start();
    await run(30);
    const before = readAsInverter(port.since(Date.now() - 1000));
    assert.ok((before.ccl ?? 0) > 0 && before.chargeEnable === true);
    // The last reading the link delivers.
    sender.feed(simInputs(sim));
    const lastFeed = Date.now();
    let fed = true;
    // The link stops delivering: 3 poll intervals later every pack is stale.
    await run(20, { feed: () => (fed = false) });
    const stalled = readAsInverter(port.since(Date.now() - 1000));
    assert.equal(stalled.ccl, 0);
    assert.equal(stalled.chargeEnable, false);
    assert.equal(stalled.dischargeEnable, true);
    assert.ok((stalled.dcl ?? 0) > 0 && (stalled.dcl ?? 0) <= (before.dcl ?? 0));
    assert.ok(reports.some((r) => r.stage === 2));
    // Still sending until 60 s after charging stopped, then silence.
    await run(60, { feed: () => false });
    const sends = port.setStarts().filter((t) => t > lastFeed);
    const lastSend = Math.max(...sends);
    // 3 poll intervals until charging stops, then 60 s: the last set 75 s after the last reading.
    assert.ok(lastSend - lastFeed >= 74_000 && lastSend - lastFeed <= 76_000, String(lastSend - lastFeed));
    const quietFrom = Date.now();
    await run(10, { feed: () => false });
    assert.equal(port.since(quietFrom).length, 0);
    assert.ok(reports.at(-1)?.sent === 'nothing' && /silent/.test(reports.at(-1)?.why ?? ''));
    assert.equal(fed, false);
    // Data again: frames come back, charging only after the controller's recovery hold.
    const back = Date.now();
    await run(60);
    assert.ok(port.setStarts().filter((t) => t >= back).length > 50);
    const recovered = readAsInverter(port.since(Date.now() - 1000));
    assert.equal(recovered.chargeEnable, true);
    assert.ok((recovered.ccl ?? 0) > 0);
  });

  it('a pack silent for 3 poll intervals is out of what the inverter reads (two lost polls change nothing): modules, voltage from the fresh ones', async () => {
    sender = make();
    sender.start();
    await run(10);
    // The last poll with pack 3 in it; from the next one on it is not in the readings any more.
    sender.feed(simInputs(sim));
    const lastOfPack3 = Date.now();
    const step = async (): Promise<void> => {
      if (Date.now() % 5000 < 1000) sender.feed(simInputs(sim, [1, 2]));
      port.inverter(0x305);
      await time.advance(1000);
    };
    while (Date.now() < lastOfPack3 + 14_000) await step();
    // 14 s: two polls missed, the third not yet due.
    assert.equal(readAsInverter(port.since(Date.now() - 1000)).modules, 3);
    while (Date.now() < lastOfPack3 + 17_000) await step();
    const read = readAsInverter(port.since(Date.now() - 1000));
    assert.equal(read.modules, 2);
    const truth = simInputs(sim, [1, 2]);
    assert.equal(
      read.voltage,
      Math.round(((truth[0]?.analog?.voltage ?? NaN) + (truth[1]?.analog?.voltage ?? NaN)) * 50) / 100,
    );
    // Pack 3 not answering is a communication warning (0x359 byte 3 bit 3).
    assert.equal((read.warning?.[1] ?? 0) & 0x08, 0x08);
  });

  it('fixed caps: CVL / CCL / DCL as set; a pack in charge protection makes the charge limit 0', async () => {
    sender = make({ limits: { kind: 'fixed', cvl: 55.2, ccl: 120, dcl: 150 } });
    sender.start();
    await run(6);
    let read = readAsInverter(port.since(Date.now() - 1000));
    assert.deepEqual([read.cvl, read.ccl, read.dcl, read.chargeEnable], [55.2, 120, 150, true]);
    for (const n of [1, 2, 3]) sim.pack(n).chargeMosForcedOff = true;
    await run(10);
    read = readAsInverter(port.since(Date.now() - 1000));
    assert.equal(read.ccl, 0);
    assert.equal(read.chargeEnable, false);
    assert.equal(read.dcl, 150);
  });

  it('the adapter closed: nothing is sent and the report says why', async () => {
    sender = make();
    sender.start();
    port.isOpen = false;
    await run(3);
    assert.equal(port.sent.length, 0);
    assert.equal(reports.at(-1)?.why, 'the CAN adapter is not open');
  });

  it('SMA Sunny Island: its 0x305 values and a LuxPower shutdown request come out as inverter events', () => {
    sender = make({ family: family('sma') });
    const events: InverterFrame[] = [];
    sender.on('inverter', (e: InverterFrame) => events.push(e));
    port.inverter(0x305, [0x08, 0x02, 0x9c, 0xff, 0xfa, 0x00, 0x50, 0x00]);
    assert.deepEqual(events, [{ kind: 'sma-values', id: 0x305, voltage: 52, current: -10, temperature: 25, soc: 80 }]);
    assert.equal(sender.keepAliveSeen, true);
    sender.stop();
    sender = make({ family: family('luxpower') });
    sender.on('inverter', (e: InverterFrame) => events.push(e));
    port.inverter(0x300, [1]);
    assert.deepEqual(events.at(-1), { kind: 'shutdown-request', id: 0x300, shutdown: true });
  });
});
