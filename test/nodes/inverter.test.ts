import assert from 'node:assert/strict';
import { once } from 'node:events';
import { aggregateBank } from '../../src/bank';
import { SlcanInverterSim, type ReceivedFrame } from '../../src/sim/can-inverter';
import { Rs485InverterSim } from '../../src/sim/rs485-inverter';
import { parseFrame } from '../../src/protocol';
import { readAsInverter } from '../helpers/inverter';
import {
  NODES,
  events,
  helper,
  linkConfig,
  nextMessage,
  node,
  startServer,
  statusOf,
  stopServer,
} from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';
import { simInputs } from '../helpers/venus';

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex').toUpperCase();

/** Frames the emulated inverter receives from now on, until `done` says enough. */
async function framesUntil(sim: SlcanInverterSim, done: (got: ReceivedFrame[]) => boolean): Promise<ReceivedFrame[]> {
  const got: ReceivedFrame[] = [];
  while (!done(got)) got.push(...((await once(sim, 'frame')) as ReceivedFrame[]));
  return got;
}

/** The last complete set (0x351 … 0x35E) among `frames`. */
function lastSet(frames: readonly ReceivedFrame[]): ReceivedFrame[] {
  const start = frames.map((f) => f.frame.id).lastIndexOf(0x351);
  return frames.slice(start, start + 6);
}

const inverterNode = (extra: object): object => ({
  id: 'inv',
  type: 'bms-inverter',
  z: 'f',
  source: 'link',
  link: 'l',
  protocol: 'can',
  family: 'pylon',
  manufacturer: '',
  limits: 'fixed',
  fixedCvl: '55.2',
  fixedCcl: '100',
  fixedDcl: '150',
  silentAfter: '10',
  keepAlive: true,
  probe: '30',
  topic: 'bms/inverter',
  wires: [['out']],
  ...extra,
});

describe('bms-inverter (real Node-RED, the simulated bank, emulated inverters over a pty)', function () {
  this.timeout(60_000);
  let bank: RunningSim;
  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    bank = await startSim({ packs: 2 });
  });
  afterEach(async () => {
    await helper.unload();
    await bank.stop();
  });

  describe('CAN through an slcan adapter', () => {
    let can: SlcanInverterSim;
    beforeEach(async () => {
      can = new SlcanInverterSim({ pty: true });
      await can.start();
    });
    afterEach(async () => {
      await can.stop();
    });

    const load = async (extra: object = {}): Promise<void> => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', bank.tcp),
        inverterNode({ port: can.endpoints.pty, ...extra }),
        { id: 'out', type: 'helper', z: 'f' },
        { id: 'c', type: 'catch', z: 'f', scope: ['inv'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f' },
      ]);
    };

    it('the inverter reads the bank: the Pylontech V1.2 set once a second, the fixed caps byte for byte, "PYLON" as the name', async () => {
      await load();
      const frames = await framesUntil(can, (got) => got.filter((f) => f.frame.id === 0x35e).length >= 2);
      const set = lastSet(frames);
      assert.deepEqual(
        set.map((f) => f.frame.id),
        [0x351, 0x355, 0x356, 0x359, 0x35c, 0x35e],
      );
      assert.equal(hex(set[0]?.frame.data ?? new Uint8Array()), '2802E803DC050000');
      assert.equal(hex(set[5]?.frame.data ?? new Uint8Array()), '50594C4F4E202020');
      const read = readAsInverter(set.map((f) => f.frame));
      assert.equal(read.modules, 2);
      assert.equal(read.chargeEnable, true);
      await statusOf('inv', (s) => /2\/2 packs · CVL 55\.2 V · CCL 100 A · DCL 150 A/.test(s.text ?? ''));
    });

    it('without the keep-alive: one wake-up set, then waiting; it sends once the inverter answers', async () => {
      can.keepAlive = false;
      await load();
      await statusOf('inv', (s) => s.text === "waiting for the inverter's keep-alive");
      const before = can.received.length;
      assert.ok(before <= 6, String(before));
      can.keepAlive = true;
      await framesUntil(can, (got) => got.filter((f) => f.frame.id === 0x351).length >= 2);
      await statusOf('inv', (s) => /CVL 55\.2 V/.test(s.text ?? ''));
    });

    it('the bank goes quiet: first charging stops (CCL 0, charge enable off), then nothing is sent; it comes back with the data', async () => {
      await load();
      await framesUntil(can, (got) => got.some((f) => f.frame.id === 0x35e));
      bank.server.silence(60_000);
      const held = await framesUntil(can, (got) => {
        const set = lastSet(got);
        return set.length === 6 && readAsInverter(set.map((f) => f.frame)).ccl === 0;
      });
      const read = readAsInverter(lastSet(held).map((f) => f.frame));
      assert.equal(read.chargeEnable, false);
      assert.equal(read.dischargeEnable, true);
      assert.equal(read.dcl, 150);
      await statusOf('inv', (s) => /^silent: /.test(s.text ?? ''));
      const quietFrom = can.received.length;
      await statusOf('inv', (s) => /^silent: /.test(s.text ?? '') && can.received.length === quietFrom);
      bank.server.silence(0);
      await framesUntil(can, (got) => got.some((f) => f.frame.id === 0x35e));
    });

    it('the adapter vanishes and comes back: the status says so, frames flow again', async () => {
      await load();
      await framesUntil(can, (got) => got.some((f) => f.frame.id === 0x35e));
      const gone = statusOf('inv', (s) => /CAN adapter .* gone, retrying/.test(s.text ?? ''));
      await can.unplug(1500);
      await gone;
      await framesUntil(can, (got) => got.some((f) => f.frame.id === 0x35e));
    });

    it("a Sunny Island's own values come out at most once a minute, a shutdown request at once", async () => {
      await load({ family: 'sma' });
      const inverterMessages: { kind: string }[] = [];
      const shutdown = new Promise<void>((resolve) => {
        events('out').on('input', (msg: { payload: { inverter?: { kind: string } } }) => {
          if (!msg.payload.inverter) return;
          inverterMessages.push(msg.payload.inverter);
          if (msg.payload.inverter.kind === 'shutdown-request') resolve();
        });
      });
      // The keep-alive (a Sunny Island's 0x305 carries its values) comes every second; then 52.0 V, −10.0 A,
      // 25.0 °C, 80 % three times; then a frame of another kind, which comes out at once.
      await framesUntil(can, (got) => got.filter((f) => f.frame.id === 0x35e).length >= 2);
      for (let i = 0; i < 3; i++)
        can.inverterSends({ id: 0x305, data: Uint8Array.from([0x08, 0x02, 0x9c, 0xff, 0xfa, 0x00, 0x50, 0x00]) });
      can.inverterSends({ id: 0x300, data: Uint8Array.from([0x01]) });
      await shutdown;
      assert.deepEqual(
        inverterMessages.map((m) => m.kind),
        ['sma-values', 'shutdown-request'],
      );
    });

    it('"PYLON" towards a Victron GX is refused with the reason, and nothing is opened', async () => {
      await load({ family: 'victron', manufacturer: 'PYLON' });
      const s = await statusOf('inv', (st) => st.fill === 'red');
      assert.match(s.text ?? '', /not sent to a Victron GX/);
      assert.equal(can.commands.length, 0);
      const caught = nextMessage<{ error?: { message: string } }>('caught', (m) =>
        /^Error:/.test(m.error?.message ?? ''),
      );
      node('inv').receive({ payload: {} });
      assert.match((await caught).error?.message ?? '', /^Error: bms-inverter: "PYLON" is not sent to a Victron GX/);
    });
  });

  describe('RS485: answering the inverter', () => {
    let rs485: Rs485InverterSim;
    beforeEach(async () => {
      rs485 = new Rs485InverterSim({ pty: true });
      await rs485.start();
    });
    afterEach(async () => {
      await rs485.stop();
    });

    it("answers 0x63 with the bank's limits; the output shows each command the inverter asks for the first time", async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', bank.tcp),
        inverterNode({ protocol: 'rs485', port: rs485.endpoints.pty, baud: '9600', address: '2', currentUnit: '0.01' }),
        { id: 'out', type: 'helper', z: 'f' },
      ]);
      const requests: unknown[] = [];
      events('out').on('input', (msg: { payload: { request?: unknown } }) => {
        if (msg.payload.request) requests.push(msg.payload.request);
      });
      await statusOf('inv', (s) => /waiting for the inverter's polls|packs/.test(s.text ?? ''));
      let reply: string | null = null;
      // The bank may still be on its first poll: the inverter asks again, as inverters do.
      for (let i = 0; i < 20 && !reply; i++) reply = await rs485.ask(0x63);
      assert.ok(reply);
      assert.equal(Buffer.from(parseFrame(reply).info).toString('hex').toUpperCase().slice(0, 8), 'D7A0B540');
      await rs485.ask(0x63);
      await rs485.ask(0x61);
      await statusOf('inv', (s) => /CVL 55\.2 V/.test(s.text ?? ''));
      const commands = (requests as { command: string }[]).map((r) => r.command);
      assert.deepEqual(commands.filter((c) => c === 'systemManagement').length, 1);
      assert.ok(commands.includes('systemAnalog'));
    });
  });

  it('input mode: a hostile or malformed payload is refused with a one-line error; the node goes on', async () => {
    const can = new SlcanInverterSim({ pty: true });
    await can.start();
    try {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        inverterNode({ source: 'input', link: '', port: can.endpoints.pty, interval: '1' }),
        { id: 'out', type: 'helper', z: 'f' },
        { id: 'c', type: 'catch', z: 'f', scope: ['inv'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f' },
      ]);
      const errors: string[] = [];
      events('caught').on('input', (msg: { error?: { message: string } }) => {
        errors.push(msg.error?.message ?? '');
      });
      for (const payload of [JSON.parse('{"__proto__":{"pack":1}}') as unknown, 'packs', { packs: [{ pack: 'x' }] }])
        node('inv').receive({ payload });
      while (errors.length < 3) await new Promise((resolve) => setImmediate(resolve));
      for (const e of errors) assert.match(e, /^Error: bms-inverter: [^\n]+$/);
      // Then a good bank state: the node is still there and sends it.
      const bankState = aggregateBank(simInputs(bank.bank), { staleAfterMs: 30_000 });
      node('inv').receive({ payload: bankState });
      await framesUntil(can, (got) => got.some((f) => f.frame.id === 0x35e));
    } finally {
      await helper.unload();
      await can.stop();
    }
  });
});
