import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Rs485Responder } from '../../src/inverter/rs485-responder';
import type { Transport } from '../../src/link/transport';
import { encodeFrame, parseFrame } from '../../src/protocol';
import { SimulatedBank } from '../../src/sim';
import { simInputs } from '../helpers/venus';
import { fakeTime, type FakeTime } from '../helpers/wire';

/** The inverter's side of the RS485 line, scripted: it writes requests, the responder's replies are kept. */
class ScriptedLine extends EventEmitter implements Transport {
  readonly description = 'scripted RS485 line';
  readonly replies: string[] = [];
  failOpen = false;

  open(): Promise<void> {
    return this.failOpen ? Promise.reject(new Error('No such file or directory')) : Promise.resolve();
  }

  write(data: string): Promise<void> {
    this.replies.push(data);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The inverter asks `cid2` at `address`; the reply (or null) comes back synchronously from the handler. */
  ask(cid2: number, address = 0x02): string | null {
    const before = this.replies.length;
    this.emit(
      'data',
      Buffer.from(`${encodeFrame({ version: 0x20, address, cid1: 0x46, cid2, info: new Uint8Array(0) })}\r`),
    );
    return this.replies.length > before ? (this.replies.at(-1) ?? null) : null;
  }
}

const info = (reply: string | null): string => {
  assert.ok(reply, 'a reply');
  return Buffer.from(parseFrame(reply.replace(/\r$/, '')).info)
    .toString('hex')
    .toUpperCase();
};

describe('Rs485Responder (fake time, a scripted line)', () => {
  let time: FakeTime;
  let lines: ScriptedLine[];
  let responder: Rs485Responder;
  const bank = new SimulatedBank({ packs: 2, seed: 6, current: -10 });

  beforeEach(async () => {
    time = fakeTime(Date.UTC(2026, 11, 1, 12, 0, 0));
    lines = [];
    responder = new Rs485Responder({
      port: '/dev/ttyUSB1',
      identity: { manufacturer: 'LFPBANK', product: 'LFP', firmware: { major: 1, minor: 0 }, forceChargeSoc: null },
      limits: { kind: 'fixed', cvl: 55.2, ccl: 100, dcl: 150 },
      pollIntervalMs: 5000,
      silentAfterMs: 60_000,
      transportFactory: () => {
        const line = new ScriptedLine();
        line.failOpen = lines.length === 1;
        lines.push(line);
        return line;
      },
    });
    responder.feed(simInputs(bank));
    responder.start();
    await time.advance(0);
  });
  afterEach(async () => {
    await responder.stop();
    time.restore();
  });

  const line = (): ScriptedLine => {
    const l = lines.at(-1);
    assert.ok(l);
    return l;
  };

  it('answers from the state decided each second; with the data 3 poll intervals old, CCL 0 and charge off; 60 s later, silence', async () => {
    assert.equal(info(line().ask(0x63)).slice(8, 18), '27103A98C0');
    // Polled every 5 s until now, then nothing more.
    await time.advance(14_000);
    assert.equal(info(line().ask(0x63)).slice(8, 18), '27103A98C0', 'two lost polls change nothing');
    await time.advance(2000);
    assert.equal(info(line().ask(0x63)).slice(8, 18), '00003A9840', 'no fresh pack: charging stops, discharge held');
    // Silent 60 s after charging stopped (the last moment a pack was fresh, 15 s after its reading).
    await time.advance(58_000);
    assert.ok(line().ask(0x63), 'still answering at 74 s');
    await time.advance(2000);
    assert.equal(line().ask(0x63), null, 'silent at 76 s');
    assert.equal(responder.stats.silent, 1);
    responder.feed(simInputs(bank));
    await time.advance(1000);
    assert.ok(line().ask(0x63));
  });

  it('the port goes: reopened after 1 s, then (the device still missing) 2 s later, then it answers again', async () => {
    assert.ok(line().ask(0x63));
    line().emit('close', new Error('device reports readiness to read but returned no data'));
    assert.equal(responder.phase, 'disconnected');
    await time.advance(1000);
    // The second open fails: the device is not back yet.
    assert.equal(lines.length, 2);
    assert.equal(responder.phase, 'disconnected');
    assert.match(responder.error ?? '', /No such file or directory/);
    await time.advance(1999);
    assert.equal(lines.length, 2);
    await time.advance(1);
    assert.equal(lines.length, 3);
    assert.equal(responder.phase, 'listening');
    assert.ok(line().ask(0x63));
    assert.equal(responder.stats.reconnects, 2);
  });

  it('noise and damaged frames on the line are counted and not answered; a request split over many reads is answered once', () => {
    const l = line();
    l.emit('data', Buffer.from('\x00\xff garbage ~2002460000FDxx\r'));
    assert.equal(l.replies.length, 0);
    assert.equal(responder.stats.damaged, 1);
    const request = `${encodeFrame({ version: 0x20, address: 0x02, cid1: 0x46, cid2: 0x61, info: new Uint8Array(0) })}\r`;
    for (const c of request) l.emit('data', Buffer.from(c));
    assert.equal(l.replies.length, 1);
  });
});
