import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import sinon from 'sinon';
import { BmsLink, LinkError, type Transport } from '../../src/link';

/** A port that never opens: each attempt is a new object, as the link must make. */
class UnopenablePort extends EventEmitter implements Transport {
  static made = 0;
  readonly description = 'unopenable';
  constructor() {
    super();
    UnopenablePort.made++;
  }
  open(): Promise<void> {
    return Promise.reject(new LinkError('open-failed', 'cannot open unopenable: no such device'));
  }
  write(): Promise<void> {
    return Promise.reject(new Error('not open'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('link: reconnect backoff', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers();
    UnopenablePort.made = 0;
  });
  afterEach(() => {
    clock.restore();
  });

  it('doubles the delay from the minimum up to the cap, with a new port object per attempt', async () => {
    sinon.stub(Math, 'random').returns(0);
    const link = BmsLink.acquire({
      port: '/dev/backoff-test',
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
      transportFactory: () => new UnopenablePort(),
    });
    try {
      const delays: number[] = [];
      link.on('reconnecting', (ms: number) => delays.push(ms));
      await assert.rejects(link.open(), /no such device/);
      for (let i = 0; i < 6; i++) await clock.tickAsync(delays.at(-1) ?? 0);
      assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
      assert.equal(UnopenablePort.made, 7);
      assert.equal(link.stats.reconnects, 6);
    } finally {
      (Math.random as sinon.SinonStub).restore();
      await link.close();
    }
  });

  it('leaves no timer behind once closed', async () => {
    const link = BmsLink.acquire({ port: '/dev/backoff-test-2', transportFactory: () => new UnopenablePort() });
    await assert.rejects(link.open());
    assert.equal(clock.countTimers(), 1, 'the reconnect timer');
    await link.close();
    assert.equal(clock.countTimers(), 0);
  });
});
