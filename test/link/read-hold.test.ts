import assert from 'node:assert/strict';
import { BmsClient, BmsLink, LinkError, type Transport } from '../../src/link';
import { ALL_PACKS } from '../../src/protocol';
import { SimBus, SimulatedBank } from '../../src/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

/**
 * Read holds: while a long reply arrives at 9600 Bd, the link lets its bytes gather in the kernel
 * instead of taking ~180 ten-byte pieces. The simulated port models the kernel (what arrives during
 * a hold comes in one read after it; 4 KB at most). Link settings as shipped: 1000 ms timeout.
 */
describe('link: read holds while a long reply arrives (fake time, simulated port)', function () {
  this.timeout(60_000);
  let time: FakeTime;
  let bank: SimulatedBank;
  let bus: SimBus;
  let link: BmsLink;
  let port = 0;

  const open = (holds: boolean): BmsClient => {
    const factory = (): Transport => {
      const transport = bus.factory();
      // The same port without read holds, as a transport that cannot pause.
      if (!holds) Object.defineProperty(transport, 'pauseReading', { value: undefined });
      return transport;
    };
    link = BmsLink.acquire({ port: `tcp://read-hold.test:${String(++port)}`, transportFactory: factory });
    return new BmsClient(link, { dialect: 'pace' });
  };

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 15, current: -20 });
    bus = new SimBus(bank, { latencyMs: 30 });
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  const readAll = (client: BmsClient) =>
    time.run(client.call('analog', { pack: ALL_PACKS }, { expectedPacks: 15 }), 20_000);

  it('a 15-pack reply (about 2 s on the wire) arrives whole in a few reads, not ~180, with no timeout', async () => {
    const held = await readAll(open(true));
    const heldReads = bus.received.length;
    const reply = bus.answers[0]?.reply ?? '';
    assert.ok(reply.length > 1500, `reply of ${String(reply.length)} characters`);
    assert.equal(bus.received.map((r) => r.text).join(''), reply);
    await link.close();
    bus = new SimBus(bank, { latencyMs: 30 });
    const plain = await readAll(open(false));
    const plainReads = bus.received.length;

    // Every byte the bank sent reached the link, in order, either way.
    assert.equal(held.data.packs.length, 15);
    assert.equal(plain.data.packs.length, 15);
    assert.equal(bus.received.map((r) => r.text).join(''), bus.answers[0]?.reply);
    assert.ok(plainReads > 150, `${String(plainReads)} reads without holds`);
    assert.ok(heldReads <= 4, `${String(heldReads)} reads with holds`);
    assert.equal(link.stats.timeouts, 0);
    assert.equal(bus.overrunBytes, 0);
  });

  it('a repeated request: a reply as long as the last one comes in two reads; replies of another length are still read whole', async () => {
    const client = open(true);
    await readAll(client);
    const learnt = bus.received.length;
    const again = await readAll(client);
    assert.equal(again.data.packs.length, 15);
    // The first piece, then the rest after it should have arrived: the reply's length was known
    // from the last one before its LENGTH field came in.
    assert.equal(bus.received.length - learnt, 2);

    // A pack leaves the bank: the reply is shorter than the one remembered, and read whole.
    bank.setPresent(15, false);
    const shorter = await time.run(client.call('analog', { pack: ALL_PACKS }, { expectedPacks: 14 }), 20_000);
    assert.equal(shorter.data.packs.length, 14);
    // It comes back: longer than remembered, the rest held by its own LENGTH field.
    bank.setPresent(15, true);
    const longer = await readAll(client);
    assert.equal(longer.data.packs.length, 15);
    const [full = 0, , short = 0] = bus.answers.map((a) => a.reply.length);
    assert.ok(short < full, `${String(short)} < ${String(full)} characters`);
    assert.deepEqual(
      bus.answers.map((a) => a.reply.length),
      [full, full, short, full],
    );
    // Every byte the bank sent reached the link, in order, and nothing timed out.
    assert.equal(bus.received.map((r) => r.text).join(''), bus.answers.map((a) => a.reply).join(''));
    assert.equal(link.stats.timeouts, 0);
  });

  it('a reply that stops during a hold still ends the attempt: a timeout within the hard limit, and the next request works', async () => {
    const client = open(true);
    // The first reply stops after 400 characters (a pack resetting mid-reply); retries off.
    bus.script = (n) => (n === 1 ? { cutAfter: 400 } : undefined);
    const sentAt = Date.now();
    const failed = await time
      .run(client.call('analog', { pack: ALL_PACKS }, { expectedPacks: 15, retries: 0 }), 20_000)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(failed instanceof LinkError && failed.kind === 'timeout', String(failed));
    const took = Date.now() - sentAt;
    // A broadcast's timeout: 1000 ms + 500 ms per expected pack. Silence counts from the last byte
    // or the hold's end, whichever is later: never before the 400 characters plus the timeout, and
    // within the hard limit of the timeout plus the longest frame's wire time (4113 characters).
    const timeout = 1000 + 15 * 500;
    assert.ok(took >= 400 * (10_000 / 9600) + timeout, `${String(took)} ms`);
    assert.ok(took <= timeout + Math.ceil((4114 * 10_000) / 9600) + 10, `${String(took)} ms`);
    assert.equal(link.stats.timeouts, 1);

    const next = await readAll(client);
    assert.equal(next.data.packs.length, 15);
  });
});
