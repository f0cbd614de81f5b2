import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Announcement } from '../../src/inverter/announcer';
import { Rs485Responder, type Rs485ResponderOptions } from '../../src/inverter/rs485-responder';
import { decodeResponse, encodeFrame, encodeRequest, parseFrame } from '../../src/protocol';
import { SimulatedBank } from '../../src/sim';
import { Rs485InverterSim } from '../../src/sim/rs485-inverter';
import { simInputs } from '../helpers/venus';

const identity = { manufacturer: 'LFPBANK', product: 'LFP', firmware: { major: 2, minor: 1 }, forceChargeSoc: null };

/** Resolves once the responder is in `phase`. */
async function phase(r: Rs485Responder, want: Rs485Responder['phase']): Promise<void> {
  while (r.phase !== want) await once(r, 'state');
}

/** Resolves with the first announcement that `match`es. */
async function announced(r: Rs485Responder, match: (a: Announcement) => boolean): Promise<Announcement> {
  for (;;) {
    const [a] = (await once(r, 'announcement')) as [Announcement];
    if (match(a)) return a;
  }
}

const info = (reply: string | null): string => {
  assert.ok(reply, 'a reply');
  return Buffer.from(parseFrame(reply).info).toString('hex').toUpperCase();
};

describe('Pylontech RS485 answering over a pseudo-terminal (real serialport, 9600 Bd)', function () {
  this.timeout(30_000);
  let inverter: Rs485InverterSim;
  let responder: Rs485Responder;
  let bank: SimulatedBank;

  const start = async (options: Partial<Rs485ResponderOptions> = {}): Promise<void> => {
    inverter = new Rs485InverterSim({ pty: true, replyTimeoutMs: 800 });
    const { pty } = await inverter.start();
    bank = new SimulatedBank({ packs: 3, seed: 4, current: -25 });
    responder = new Rs485Responder({
      port: pty ?? '',
      identity,
      limits: { kind: 'fixed', cvl: 55.2, ccl: 100, dcl: 150 },
      pollIntervalMs: 5000,
      reconnectMinMs: 200,
      reconnectMaxMs: 500,
      ...options,
    });
    responder.feed(simInputs(bank));
    responder.start();
    await phase(responder, 'listening');
  };

  afterEach(async () => {
    await responder.stop();
    await inverter.stop();
  });

  it('0x63 system management byte for byte: CVL, DVL in mV, CCL / DCL in 10 mA, charge and discharge enabled', async () => {
    await start();
    const reply = await inverter.ask(0x63);
    // 55200 mV, 46400 mV (2.9 V × 16), 10000 × 10 mA, 15000 × 10 mA, b7 + b6.
    assert.equal(
      reply,
      encodeFrame({
        version: 0x20,
        address: 0x02,
        cid1: 0x46,
        cid2: 0x00,
        info: Buffer.from('D7A0B54027103A98C0', 'hex'),
      }),
    );
    assert.equal(info(reply), 'D7A0B54027103A98C0');
  });

  it('0x42 through the codec: every pack a module of the stack (FF: all, 2: the first); 0x92 with the DCL negative as a Pylontech module sends it', async () => {
    await start();
    const truth = simInputs(bank);
    const read = async (command: number): Promise<{ cellVoltages: number[]; current: number; voltage: number }[]> => {
      const reply = await inverter.ask(0x42, [command]);
      assert.ok(reply);
      const decoded = decodeResponse(reply, {
        request: encodeRequest('analog', { pack: command }, { dialect: 'pylontech', address: 2 }),
        dialect: 'pylontech',
      });
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.message);
      return decoded.data.packs as { cellVoltages: number[]; current: number; voltage: number }[];
    };
    const all = await read(0xff);
    assert.deepEqual(
      all.map((p) => p.cellVoltages),
      truth.map((p) => p.analog?.cellVoltages),
    );
    // Pylontech carries the current in 0.1 A.
    assert.deepEqual(
      all.map((p) => p.current),
      truth.map((p) => Math.round((p.analog?.current ?? NaN) * 10) / 10),
    );
    const first = await read(0x02);
    assert.deepEqual(
      first.map((p) => p.voltage),
      [truth[0]?.analog?.voltage],
    );
    // No fourth module: address error.
    assert.equal(parseFrame((await inverter.ask(0x42, [0x05])) ?? '').cid2, 0x90);
    const limits = await inverter.ask(0x92, [0x02]);
    assert.ok(limits);
    const l = decodeResponse(limits, {
      request: encodeRequest('chargeLimits', { pack: 2 }, { dialect: 'pylontech', address: 2 }),
      dialect: 'pylontech',
    }).data;
    assert.deepEqual([l.chargeVoltage, l.chargeCurrent, l.dischargeCurrent, l.chargeEnabled], [55.2, 100, -150, true]);
  });

  it('0x61: voltage, current in 10 mA, SOC; 0x62 all clear; 0x4F, 0x51, 0x60; another address gets no answer; an unknown command RTN 04', async () => {
    await start();
    const system = info(await inverter.ask(0x61));
    const truth = simInputs(bank);
    const volts = truth.reduce((a, p) => a + (p.analog?.voltage ?? 0), 0) / 3;
    assert.equal(Number.parseInt(system.slice(0, 4), 16), Math.round(volts * 1000));
    const amps = truth.reduce((a, p) => a + (p.analog?.current ?? 0), 0);
    const raw = Number.parseInt(system.slice(4, 8), 16);
    assert.equal(raw >= 0x8000 ? raw - 0x10000 : raw, Math.round(amps * 100));
    assert.equal(info(await inverter.ask(0x62)), '00000000');
    const version = await inverter.ask(0x4f, [], 0x02, 0x00);
    assert.ok(version);
    assert.equal(parseFrame(version).version, 0x20);
    assert.match(
      Buffer.from(parseFrame((await inverter.ask(0x51)) ?? '').info).toString('latin1'),
      /^LFP-BANK {2}.{2}LFPBANK/,
    );
    const sysinfo = Buffer.from(parseFrame((await inverter.ask(0x60)) ?? '').info);
    // Name 10, manufacturer 20, version 2, then the pack count and a serial of 16 per pack.
    assert.equal(sysinfo[32], 3);
    assert.equal(sysinfo.length, 33 + 3 * 16);
    const parameters = await inverter.ask(0x47);
    assert.ok(parameters);
    const p = decodeResponse(parameters, {
      request: encodeRequest('systemParameters', {}, { dialect: 'pylontech', address: 2 }),
      dialect: 'pylontech',
    }).data;
    // The limits the bank is run to: 55.2 V / 16 cells, the charge control's temperature window, the caps.
    assert.deepEqual(
      [p.cellHighVoltage, p.moduleHighVoltage, p.chargeLowTemperature, p.chargeHighTemperature, p.chargeCurrentLimit],
      [3.45, 55.2, 2, 50, 100],
    );
    // An inverter asking the battery to change its management or to turn off gets no (RTN 04).
    for (const cid2 of [0x94, 0x95, 0x64]) assert.equal(parseFrame((await inverter.ask(cid2)) ?? '').cid2, 0x04);
    assert.equal(await inverter.ask(0x61, [], 0x12), null);
    assert.equal(parseFrame((await inverter.ask(0x99)) ?? '').cid2, 0x04);
    assert.equal(responder.stats.answered, 10);
    assert.equal(responder.stats.requests, 10);
  });

  it('stale data: charging stops (0x63 CCL 0, charge enable off, discharge allowed), then silence; fresh data answers again', async () => {
    await start({ pollIntervalMs: 300, silentAfterMs: 1500, periodMs: 100 });
    assert.equal(info(await inverter.ask(0x63)).slice(8, 12), '2710');
    // No more data: stale after 3 poll intervals.
    await announced(responder, (a) => a.freshness.stage === 2);
    const held = info(await inverter.ask(0x63));
    assert.equal(held.slice(8, 12), '0000');
    assert.equal(held.slice(16, 18), '40');
    await announced(responder, (a) => a.freshness.stage === 3);
    assert.equal(await inverter.ask(0x63), null);
    assert.ok(responder.stats.silent >= 1);
    responder.feed(simInputs(bank));
    await announced(responder, (a) => a.freshness.stage === 0);
    assert.ok(await inverter.ask(0x63));
  });

  it('the port vanishes: the responder reopens it and answers again', async () => {
    await start();
    assert.ok(await inverter.ask(0x63));
    const down = (async () => {
      while (responder.phase !== 'disconnected') await once(responder, 'state');
    })();
    // Unplugged; the reply to a poll then fails too.
    await inverter.unplug(600);
    await inverter.ask(0x63);
    await down;
    await phase(responder, 'listening');
    assert.ok(await inverter.ask(0x63));
    assert.ok(responder.stats.reconnects >= 1);
  });
});
