import assert from 'node:assert/strict';
import { BmsClient, BmsLink, LinkError, type CallResult } from '../../src/link';
import { COMMANDS, decodeRequest, encodeRequest, type CommandSpec, type Fields } from '../../src/protocol';
import { SimBus, SimulatedBank } from '../../src/sim';
import { defaultParameters } from '../../src/sim/defaults';
import { fakeTime, type FakeTime } from '../helpers/wire';

/** Link settings as shipped: 1000 ms timeout, 50 ms gap, 500 ms settle, 9600 Bd. */
const TIMEOUT = 1000;
const SETTLE = 500;
const LATENCY = 30;
/** How late a link holding its reads may notice a frame's end at 9600 Bd: a few characters' time. */
const HOLD_LATE_MS = 8;

/** A request for every PACE command the sim answers, with values it accepts. */
function sample(spec: CommandSpec): { params: Fields; address?: number } {
  const defaults = defaultParameters();
  const group = spec.name.replace(/^(read|write)/, '');
  const key = group.charAt(0).toLowerCase() + group.slice(1);
  if (spec.name.startsWith('write') && defaults[key]) {
    const values = { ...defaults[key] };
    if (key === 'dischargeOverCurrent1') Object.assign(values, { alarm: 105, protect: 110 });
    return { params: values };
  }
  switch (spec.name) {
    case 'analog':
    case 'alarms':
      return { params: { pack: 1 }, address: 1 };
    case 'switchControl':
      return { params: { code: 0x0d } };
    case 'chargeMos':
    case 'dischargeMos':
      return { params: { on: true } };
    case 'history':
      return { params: { index: 0 } };
    case 'writeCapacity':
      return { params: { remainingAh: 60, fullAh: 100, designAh: 100 } };
    case 'writeClock':
      return { params: { time: '2026-11-30T12:00:00' } };
    case 'writeStorageInterval':
      return { params: { interval: 600 } };
    case 'writeInverterProtocol':
      return { params: { canProtocol: 1, rs485Protocol: 1, manual: false } };
    default:
      return { params: {} };
  }
}

const PACE = COMMANDS.filter((c) => c.dialects.includes('pace'));
/** Every ordered pair of different commands whose replies have a shape in common. */
const PAIRS = PACE.flatMap((a) =>
  PACE.filter((b) => b !== a && b.replyShape.some((s) => a.replyShape.includes(s))).map((b) => [a, b] as const),
);

describe('link: a reply is never taken as the answer to another request (fake time, scripted wire)', function () {
  this.timeout(120_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let bus: SimBus;
  let link: BmsLink;
  let client: BmsClient;

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 1, current: 0 });
    bus = new SimBus(bank, { latencyMs: LATENCY });
    link = BmsLink.acquire({
      port: `tcp://late-replies.test:${String(4000 + Math.floor(Math.random() * 1000))}`,
      transportFactory: bus.factory,
    });
    client = new BmsClient(link, { dialect: 'pace' });
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  /** The n-th request on the wire gets `extraMs` more latency. */
  const lateAt = (n: number, extraMs: number): void => {
    bus.script = (i) => (i === n ? { extraDelayMs: extraMs } : undefined);
  };

  /** Call and note when the reply was taken: the answer that finished arriving then is the one it got. */
  const call = async (spec: CommandSpec, retries: number): Promise<{ result: CallResult; at: number }> => {
    const { params, address } = sample(spec);
    const result = await client.call(spec.name, params, { retries, ...(address !== undefined ? { address } : {}) });
    return { result, at: Date.now() };
  };

  const assertAnswered = (taken: { result: CallResult; at: number }, spec: CommandSpec): void => {
    // The link's read holds end a few characters after a frame's last one should have arrived.
    const request = bus.answeredAt(taken.at, HOLD_LATE_MS);
    assert.ok(request, 'the reply taken is one the bank sent, and the only one that ended just before');
    assert.equal(
      decodeRequest(request, 'pace').command,
      spec.name,
      `the reply taken answered ${request}, not ${spec.name}`,
    );
  };

  it(`covers ${String(PAIRS.length)} ordered pairs of same-shape commands`, () => {
    assert.ok(PAIRS.some(([a, b]) => a.name === 'readCellOverVoltage' && b.name === 'readCellUnderVoltage'));
    assert.ok(PAIRS.some(([a, b]) => a.name === 'version' && b.name === 'serial'));
    assert.ok(PAIRS.some(([a, b]) => a.name === 'readClock' && b.name === 'readCapacity'));
    assert.ok(
      PAIRS.some(([a, b]) => a.name === 'writeCellOverVoltage' && b.name === 'history'),
      'a late write acknowledgement looks like the end of the history log',
    );
  });

  for (const [a, b] of PAIRS) {
    it(`${a.name} late, then ${b.name}: 1 ms after the timeout, during the retry's wait, during the next request`, async () => {
      // 1. The reply to A starts arriving 1 ms after A's timeout: A fails, B gets its own reply.
      const requestMs = ((encodeRequest(a.name, sample(a).params, { dialect: 'pace' }).length + 1) * 10 * 1000) / 9600;
      const firstPieceMs = (9 * 10 * 1000) / 9600;
      let n = bus.stats.requests + 1;
      lateAt(n, Math.ceil(TIMEOUT + 2 - requestMs - LATENCY - firstPieceMs));
      const sentAt = Date.now();
      await assert.rejects(time.run(call(a, 0)), (err: unknown) => err instanceof LinkError && err.kind === 'timeout');
      assertAnswered(await time.run(call(b, 0)), b);
      const firstLate = bus.received.find((r) => r.at > sentAt + 100);
      assert.ok(
        firstLate && firstLate.at > sentAt + TIMEOUT && firstLate.at <= sentAt + TIMEOUT + 3,
        `A's reply began ${String((firstLate?.at ?? 0) - sentAt)} ms after A was sent`,
      );

      // 2. With a retry, A's first reply arrives while the retry waits for the line to settle: A
      //    gets an answer to A, and B still its own.
      n = bus.stats.requests + 1;
      lateAt(n, TIMEOUT + SETTLE / 2);
      const late = link.stats.late;
      const writes = bus.written.length;
      assertAnswered(await time.run(call(a, 1)), a);
      assert.equal(link.stats.late, late + 1, 'the late reply was discarded and counted');
      const retryAt = bus.written[writes + 1]?.at ?? 0;
      const lastByteBefore = Math.max(...bus.received.filter((r) => r.at < retryAt).map((r) => r.at));
      assert.ok(
        retryAt - lastByteBefore >= SETTLE,
        `the retry went ${String(retryAt - lastByteBefore)} ms after the line was last heard`,
      );
      assertAnswered(await time.run(call(b, 0)), b);

      // 3. A's reply is so late it arrives after the next request went out: a request of another
      //    shape goes first and B waits until the bus has answered it.
      n = bus.stats.requests + 1;
      const syncs = link.stats.syncs;
      lateAt(n, TIMEOUT + SETTLE + 200);
      await assert.rejects(time.run(call(a, 0)), (err: unknown) => err instanceof LinkError && err.kind === 'timeout');
      assertAnswered(await time.run(call(b, 0)), b);
      assert.equal(link.stats.syncs, syncs + 1, 'one sync request went before B');
      assert.ok(link.stats.foreign + link.stats.late >= 3, JSON.stringify(link.stats));
    });
  }
});
