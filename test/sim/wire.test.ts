import assert from 'node:assert/strict';
import type { Transport } from '../../src/link';
import { encodeRequest } from '../../src/protocol';
import { SimBus, SimulatedBank } from '../../src/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

const ANALOG = encodeRequest('analog', { pack: 1 }, { dialect: 'pace', address: 1 });
const COUNT = encodeRequest('packCount', {}, { dialect: 'pace', address: 1 });

describe('simulated wire (fake time)', () => {
  let time: FakeTime;
  let bus: SimBus;
  let transport: Transport;

  beforeEach(async () => {
    time = fakeTime();
    bus = new SimBus(new SimulatedBank({ packs: 1 }), { latencyMs: 30 });
    transport = bus.factory();
    await transport.open();
  });
  afterEach(async () => {
    await transport.close();
    time.restore();
  });

  const send = (text: string): Promise<void> => transport.write(`${text}\r`);

  it("answers after the request's own wire time and the latency, paced at the baud rate in pieces", async () => {
    const t0 = Date.now();
    await send(ANALOG);
    await time.advance(1000);
    const first = bus.received[0]!;
    // 20 bytes of request at 9600 Bd (≈ 21 ms) + 30 ms latency + the first 9-byte piece (≈ 9 ms).
    assert.ok(first.at - t0 >= 59 && first.at - t0 <= 62, String(first.at - t0));
    assert.ok(bus.received.length > 10, 'in pieces');
    assert.ok(bus.received.every((r) => r.text.length <= 9));
  });

  it('a reply late by a chosen amount comes that late, and the next reply waits behind it', async () => {
    bus.script = (n) => (n === 1 ? { extraDelayMs: 1500 } : undefined);
    const t0 = Date.now();
    await send(ANALOG);
    await time.advance(100);
    await send(COUNT);
    await time.advance(3000);
    const [late, next] = bus.answers as [(typeof bus.answers)[0], (typeof bus.answers)[0]];
    assert.equal(late.request, ANALOG);
    assert.ok(late.at - t0 >= 1550, String(late.at - t0));
    assert.equal(next.request, COUNT);
    assert.ok(next.at > late.at);
    assert.equal(bus.stats.late, 1);
  });

  it('a silence burst ignores every request for its length, then the bank answers again', async () => {
    bus.silence(2000);
    await send(ANALOG);
    await time.advance(1000);
    await send(COUNT);
    await time.advance(1500);
    assert.equal(bus.answers.length, 0);
    assert.equal(bus.stats.silenced, 2);
    await send(COUNT);
    await time.advance(500);
    assert.deepEqual(
      bus.answers.map((a) => a.request),
      [COUNT],
    );
  });

  it('half duplex: a request sent while the bank is still sending garbles both', async () => {
    bus.shared.halfDuplex = true;
    await send(ANALOG);
    await time.advance(70);
    await send(COUNT);
    await time.advance(1000);
    assert.equal(bus.stats.collisions, 1);
    const text = bus.received.map((r) => r.text).join('');
    assert.ok(!text.includes('\r'), 'the rest of the reply arrived as noise: no frame ends');
    assert.equal(bus.answers.length, 1, 'the colliding request never reached the bank');
  });

  it('half duplex with a slow turnaround: a request within that time after a reply is lost, one after it is answered', async () => {
    bus.shared.halfDuplex = true;
    bus.shared.turnaroundMs = 50;
    await send(COUNT);
    while (bus.answers.length === 0) await time.advance(1);
    assert.equal(bus.answers[0]?.at, Date.now());
    await time.advance(20);
    await send(COUNT);
    await time.advance(500);
    assert.equal(bus.stats.collisions, 1, 'sent 20 ms after the reply: the pack still held the line');
    assert.equal(bus.answers.length, 1);
    await send(COUNT);
    await time.advance(500);
    assert.equal(bus.answers.length, 2, 'sent after the turnaround: answered');
    assert.equal(bus.stats.collisions, 1);
  });
});
