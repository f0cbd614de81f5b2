import assert from 'node:assert/strict';
import { BmsLink, LinkError, isLinkError } from '../../src/link';
import { FrameError, decodeResponse, encodeRequest, type PackAnalog } from '../../src/protocol';
import { next, startSim, type RunningSim } from '../helpers/sim';

const ANALOG_1 = encodeRequest('analog', { pack: 1 }, { dialect: 'pace' });

for (const transport of ['tcp', 'pty'] as const) {
  describe(`link over ${transport === 'tcp' ? 'TCP' : 'a pty with the serialport stack'}`, () => {
    let sim: RunningSim;
    let link: BmsLink;
    const port = (): string => (transport === 'tcp' ? sim.tcp : sim.pty!);

    beforeEach(async () => {
      sim = await startSim({ packs: 3 }, { pty: transport === 'pty' });
      link = BmsLink.acquire({
        port: port(),
        baudRate: 115200,
        timeoutMs: 300,
        gapMs: 5,
        retries: 1,
        reconnectMinMs: 50,
        reconnectMaxMs: 400,
      });
    });

    afterEach(async () => {
      await link.close();
      await sim.stop();
    });

    it('answers a request with the reply frame, opening the port on first use', async () => {
      const reply = await link.request(ANALOG_1);
      assert.equal(reply.frame.address, 1);
      assert.equal(link.state, 'connected');
      assert.equal(link.stats.framesOk, 1);
      assert.equal(sim.server.stats.requests, 1);
    });

    it('shares one link per port, reference counted, and never opens the port twice', async () => {
      const again = BmsLink.acquire({ port: port(), baudRate: 115200 });
      assert.equal(again, link);
      assert.equal(BmsLink.users(port()), 2);
      await link.request(ANALOG_1);
      await again.release();
      assert.equal(link.state, 'connected');
      assert.equal(BmsLink.users(port()), 1);
      if (transport === 'pty')
        assert.throws(() => BmsLink.acquire({ port: port(), baudRate: 9600 }), /already in use at 115200 Bd/);
      else {
        // A gateway sets the baud rate itself: the same tcp:// link serves every user.
        const third = BmsLink.acquire({ port: port(), baudRate: 9600 });
        assert.equal(third, link);
        await third.release();
      }
    });

    it('corrupt replies: a typed checksum error after the retries, then recovery', async () => {
      sim.server.faults.corruptRate = 1;
      await assert.rejects(
        link.request(ANALOG_1),
        (err: unknown) => err instanceof FrameError && err.kind === 'checksum' && /after 2 attempts/.test(err.message),
      );
      assert.equal(link.stats.checksumErrors, 2);
      assert.equal(link.stats.retries, 1);
      sim.server.faults.corruptRate = 0;
      assert.equal((await link.request(ANALOG_1)).frame.cid2, 0);
    });

    it('dropped replies: a timeout error, then recovery', async () => {
      sim.server.faults.dropRate = 1;
      await assert.rejects(
        link.request(ANALOG_1),
        (err: unknown) => isLinkError(err) && err.kind === 'timeout' && /no reply/.test(err.message),
      );
      assert.equal(link.stats.timeouts, 2);
      sim.server.faults.dropRate = 0;
      await link.request(ANALOG_1);
    });

    it('a reply later than the timeout is dropped as late and never given to the next request', async () => {
      sim.server.faults.delayMs = 500;
      const late = link.request(ANALOG_1, { retries: 0 });
      await assert.rejects(late, (err: unknown) => isLinkError(err) && err.kind === 'timeout');
      sim.server.faults.delayMs = 0;
      const packCount = encodeRequest('packCount', {}, { dialect: 'pace', address: 1 });
      // The late analog reply arrives while this one waits: it is not a packCount reply.
      const reply = await link.request(packCount, { accept: (frame) => frame.info.length === 1 });
      assert.equal(reply.frame.info.length, 1);
      assert.ok(link.stats.late + link.stats.foreign >= 1);
    });

    it('garbage between frames and the echo of our own request are skipped', async () => {
      sim.server.faults.garbageRate = 1;
      sim.server.faults.echo = true;
      for (let i = 0; i < 5; i++) assert.equal((await link.request(ANALOG_1)).frame.cid1, 0x46);
      assert.ok(link.stats.garbageBytes > 0);
      assert.equal(link.stats.echoes, 5);
      assert.equal(link.stats.retries, 0);
    });

    it('a full queue rejects at once and the queued requests still complete', async () => {
      await link.close();
      link = BmsLink.acquire({ port: port(), baudRate: 115200, queueLimit: 4, gapMs: 5 });
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => link.request(ANALOG_1)));
      const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
      assert.equal(rejected.length, 6);
      for (const reason of rejected) assert.ok(reason instanceof LinkError && reason.kind === 'queue-full');
    });

    it('serves interactive requests before queued polling requests', async () => {
      await link.open();
      const order: string[] = [];
      const polls = Array.from({ length: 3 }, (_, i) =>
        link.request(ANALOG_1).then(() => {
          order.push(`poll${i}`);
        }),
      );
      const interactive = link.request(ANALOG_1, { priority: 'interactive' }).then(() => {
        order.push('interactive');
      });
      await Promise.all([...polls, interactive]);
      assert.equal(order[0], 'poll0', 'the request already on the wire finishes first');
      assert.equal(order[1], 'interactive');
    });

    it('disconnect: pending requests fail at once, the link reconnects and requests work again', async () => {
      await link.request(ANALOG_1);
      sim.server.faults.delayMs = 250;
      const pending = [link.request(ANALOG_1), link.request(ANALOG_1), link.request(ANALOG_1)];
      const disconnected = next(link, 'disconnected');
      const down = sim.server.disconnect(150);
      const failures = await Promise.allSettled(pending);
      for (const r of failures)
        assert.ok(
          r.status === 'rejected' && r.reason instanceof LinkError && r.reason.kind === 'disconnected',
          String(r.status === 'rejected' ? r.reason : ''),
        );
      await disconnected;
      await assert.rejects(link.request(ANALOG_1), (err: unknown) => isLinkError(err) && err.kind === 'disconnected');
      await down;
      sim.server.faults.delayMs = 0;
      // The link may be back before the simulator's disconnect() even returns.
      if (link.state !== 'connected') await next(link, 'connected');
      assert.equal((await link.request(ANALOG_1)).frame.cid2, 0);
      assert.ok(link.stats.reconnects >= 1);
    });

    it('close fails what is pending and releases the port: reopened 100 times in a row', async function () {
      this.timeout(60_000);
      const pending = assert.rejects(
        link.request(ANALOG_1),
        (err: unknown) => isLinkError(err) && err.kind === 'closed',
      );
      await link.close();
      await pending;
      for (let i = 0; i < 100; i++) {
        const l = BmsLink.acquire({ port: port(), baudRate: 115200, timeoutMs: 500, gapMs: 1 });
        await l.open();
        if (i % 10 === 0) await l.request(ANALOG_1);
        await l.release();
        assert.equal(l.state, 'closed');
      }
      link = BmsLink.acquire({ port: port(), baudRate: 115200 });
      const reply = await link.request(ANALOG_1);
      assert.equal(reply.frame.address, 1);
    });

    it('decoded values equal what the simulator sent', async () => {
      const request = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace' });
      const reply = await link.request(request);
      const packs = decodeResponse(reply.text, { request }).data.packs as PackAnalog[];
      assert.equal(packs.length, 3);
      for (const pack of packs) {
        const truth = sim.bank.truthFor(pack.pack).at(-1);
        assert.ok(truth);
        assert.deepEqual({ ...pack, pack: undefined }, { ...truth.analog, pack: undefined });
      }
    });
  });
}

for (const transport of ['tcp', 'pty'] as const) {
  describe(`link over ${transport === 'tcp' ? 'TCP' : 'a pty with the serialport stack'} at 9600 Bd`, function () {
    this.timeout(30_000);

    it('takes a 15-pack reply in a few large reads instead of one per piece, whole', async () => {
      const sim = await startSim({ packs: 15 }, { baudRate: 9600, latencyMs: 30, pty: transport === 'pty' });
      const link = BmsLink.acquire({ port: transport === 'tcp' ? sim.tcp : sim.pty!, baudRate: 9600 });
      try {
        const request = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace', address: 1 });
        await link.request(encodeRequest('packCount', {}, { dialect: 'pace', address: 1 }));
        let reads = 0;
        (link as unknown as { transport: NodeJS.EventEmitter }).transport.on('data', () => {
          reads++;
        });
        const bytesBefore = sim.server.stats.bytesOut;
        const reply = await link.request(request, { timeoutMs: 1000 });
        const bytes = sim.server.stats.bytesOut - bytesBefore;
        const pieces = Math.ceil(bytes / 9);
        assert.equal((decodeResponse(reply.text, { request }).data.packs as PackAnalog[]).length, 15);
        assert.ok(reads < pieces / 3, `${String(reads)} reads for ${String(pieces)} pieces`);
      } finally {
        await link.close();
        await sim.stop();
      }
    });
  });
}

describe('link: opening failures', () => {
  it('reports a port that cannot be opened with a one-line open-failed error and keeps retrying', async () => {
    const link = BmsLink.acquire({ port: '/dev/does-not-exist-lfp', reconnectMinMs: 20, reconnectMaxMs: 40 });
    try {
      await assert.rejects(
        link.request(ANALOG_1),
        (err: unknown) => isLinkError(err) && err.kind === 'open-failed' && !err.message.includes('\n'),
      );
      assert.equal(link.state, 'disconnected');
      await next(link, 'reconnecting');
    } finally {
      await link.close();
    }
  });

  it('refuses a malformed tcp:// address', () => {
    assert.throws(() => BmsLink.acquire({ port: 'tcp://nohost' }), /is not tcp:\/\/host:port/);
  });
});
