import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SlcanBus, type SlcanBusState } from '../../src/link/slcan-bus';
import type { Transport } from '../../src/link/transport';
import { fakeTime, type FakeTime } from '../helpers/wire';

/** A scripted adapter: answers each command line as `answer` says, records what was written and when. */
class ScriptedAdapter extends EventEmitter implements Transport {
  readonly description = 'scripted slcan adapter';
  readonly written: { at: number; text: string }[] = [];
  failWrites = false;
  failOpen = false;

  constructor(private readonly answer: (line: string) => string | null) {
    super();
  }

  open(): Promise<void> {
    return this.failOpen ? Promise.reject(new Error('No such file or directory')) : Promise.resolve();
  }

  write(data: string): Promise<void> {
    if (this.failWrites) return Promise.reject(new Error('write EIO'));
    this.written.push({ at: Date.now(), text: data });
    const reply = this.answer(data.replace(/\r$/, ''));
    if (reply !== null)
      setTimeout(() => {
        this.emit('data', Buffer.from(reply, 'latin1'));
      }, 1);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('SlcanBus (fake time, scripted adapters)', () => {
  let time: FakeTime;
  let adapters: ScriptedAdapter[];
  let bus: SlcanBus;
  const states: { at: number; state: SlcanBusState }[] = [];

  const make = (answer: (line: string) => string | null, setup?: (a: ScriptedAdapter, n: number) => void): void => {
    bus = new SlcanBus({
      port: '/dev/ttyACM0',
      transportFactory: () => {
        const a = new ScriptedAdapter(answer);
        setup?.(a, adapters.length);
        adapters.push(a);
        return a;
      },
    });
    bus.on('state', (state: SlcanBusState) => states.push({ at: Date.now(), state }));
    bus.start();
  };

  beforeEach(() => {
    time = fakeTime(Date.UTC(2026, 11, 1, 12, 0, 0));
    adapters = [];
    states.length = 0;
  });
  afterEach(async () => {
    await bus.stop();
    time.restore();
  });

  it('a device that never answers: each set-up command waits 1 s, then it is "not an slcan adapter", retried after 1, 2, 4 … 30 s', async () => {
    const t0 = Date.now();
    make(() => null);
    await time.advance(2100);
    const down = states.find((s) => s.state.phase === 'disconnected');
    assert.equal(down?.at, t0 + 2000);
    assert.match(down.state.error ?? '', /does not answer slcan commands/);
    // Opens: at 0, then 1 s after each failure (each attempt itself takes 2 s), doubling to 30 s.
    await time.advance(200_000);
    const opens = states.filter((s) => s.state.phase === 'connecting').map((s) => (s.at - t0) / 1000);
    assert.deepEqual(opens.slice(0, 7), [0, 3, 7, 13, 23, 41, 73]);
    assert.equal(bus.stats.reconnects, opens.length - 1);
  });

  it('a refused bit rate is said as such; CR for the close of a closed channel is not needed (BEL is fine)', async () => {
    make((line) => (line === 'S6' ? '\x07' : line === 'C' ? '\x07' : '\r'));
    await time.advance(100);
    const down = states.find((s) => s.state.phase === 'disconnected');
    assert.match(down?.state.error ?? '', /refused the bit rate S6 \(500000 bit\/s\)/);
  });

  it('set up in order C, S6, O; frames go out as slcan lines; a frame answered with BEL is counted, the bus stays open', async () => {
    make((line) => (line.startsWith('t') ? '\x07' : '\r'));
    await time.advance(100);
    assert.equal(bus.isOpen, true);
    assert.deepEqual(
      adapters[0]?.written.map((w) => w.text),
      ['C\r', 'S6\r', 'O\r'],
    );
    assert.equal(await bus.send({ id: 0x351, data: Uint8Array.from([0x28, 0x02]) }), true);
    await time.advance(10);
    assert.equal(adapters[0].written.at(-1)?.text, 't35122802\r');
    assert.equal(bus.stats.refused, 1);
    assert.equal(bus.isOpen, true);
  });

  it('a write that fails means the adapter is gone: the send says false and the bus reconnects', async () => {
    make(() => '\r');
    await time.advance(100);
    const first = adapters[0];
    assert.ok(first);
    first.failWrites = true;
    assert.equal(await bus.send({ id: 0x351, data: new Uint8Array(8) }), false);
    assert.equal(bus.state.phase, 'disconnected');
    assert.match(bus.state.error ?? '', /write EIO/);
    await time.advance(1100);
    assert.equal(adapters.length, 2);
    assert.equal(bus.isOpen, true);
  });

  it('the port not there (unplugged at start): retried with the backoff until it appears', async () => {
    make(
      () => '\r',
      (a, n) => {
        a.failOpen = n < 3;
      },
    );
    await time.advance(10_000);
    assert.equal(adapters.length, 4);
    assert.equal(bus.isOpen, true);
    assert.match(states.find((s) => s.state.phase === 'disconnected')?.state.error ?? '', /No such file or directory/);
  });

  it('a frame from the inverter is handed out only while open; stop closes the channel first', async () => {
    make(() => '\r');
    const frames: number[] = [];
    bus.on('frame', (f: { id: number }) => frames.push(f.id));
    await time.advance(100);
    adapters[0]?.emit('data', Buffer.from(`t3058${'00'.repeat(8)}\r`));
    assert.deepEqual(frames, [0x305]);
    await bus.stop();
    assert.equal(adapters[0]?.written.at(-1)?.text, 'C\r');
    assert.equal(await bus.send({ id: 0x351, data: new Uint8Array(1) }), false);
  });
});
