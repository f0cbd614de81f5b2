import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { BankState } from '../../src/bank';
import { BmsLink, type PackPayload } from '../../src/link';
import { parseLinkConfig } from '../../nodes/shared/link-config';
import type { BmsLinkConfigNode } from '../../nodes/shared/types';
import {
  NODES,
  events,
  helper,
  linkConfig,
  nextMessage,
  node,
  nodeRedVersion,
  startServer,
  statusOf,
  stopServer,
} from '../helpers/red';
import { startSim, type RunningSim } from '../helpers/sim';

interface Msg<T> {
  topic?: string;
  payload: T;
  _msgid?: string;
  error?: { message: string; source?: { id: string } };
}

/** Every value must be one the simulator sent for that pack. */
function assertSent(sim: RunningSim, payload: PackPayload): void {
  assert.ok(payload.analog);
  const { pack: _p, ...values } = payload.analog;
  assert.ok(
    sim.bank.truthFor(payload.pack).some((t) => JSON.stringify(t.analog) === JSON.stringify(values)),
    `pack ${payload.pack}: never sent`,
  );
}

describe('nodes', function () {
  it('runs against the Node-RED this run asks for: 4.1 by default, 3.1.15 in npm run test:node-red-3', () => {
    const expected = process.env.LFP_NODE_RED_EXPECT;
    if (expected === undefined) assert.match(nodeRedVersion(), /^4\.1\./);
    else assert.equal(nodeRedVersion(), expected);
  });

  this.timeout(30_000);
  let sim: RunningSim;

  before(startServer);
  after(stopServer);
  beforeEach(async () => {
    sim = await startSim({ packs: 3, current: -12 });
  });
  afterEach(async () => {
    await helper.unload();
    await sim.stop();
  });

  describe('bms-link configuration', () => {
    it('accepts a complete configuration and names what is wrong with a bad one', () => {
      assert.deepEqual(
        parseLinkConfig({
          port: 'tcp://gw:4001',
          baud: '115200',
          dialect: 'pylontech',
          mode: 'relay',
          packs: '2, 3',
          interval: '10',
          timeout: '800',
          gap: '20',
        }),
        {
          options: {
            port: 'tcp://gw:4001',
            baudRate: 115200,
            dialect: 'pylontech',
            mode: 'relay',
            packs: [2, 3],
            intervalMs: 10_000,
            timeoutMs: 800,
            gapMs: 20,
          },
        },
      );
      const bad: [object, RegExp][] = [
        [{ port: '' }, /no port set/],
        [{ port: '/dev/x', baud: '1234' }, /baud rate 1234/],
        [{ port: '/dev/x', dialect: 'klingon' }, /unknown dialect/],
        [{ port: '/dev/x', mode: 'both' }, /unknown bank mode/],
        [{ port: '/dev/x', packs: '1,x' }, /packs must be/],
        [{ port: '/dev/x', interval: '0' }, /poll interval/],
        [{ port: '/dev/x', timeout: '5' }, /timeout must be/],
        [{ port: '/dev/x', gap: '-1' }, /gap must be/],
      ];
      for (const [config, message] of bad) {
        const result = parseLinkConfig(config);
        assert.ok('error' in result && message.test(result.error), JSON.stringify(config));
      }
    });

    it('a user of a link with a bad configuration shows it, and its input errors reach a Catch node', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', ''),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '1', wires: [[]] },
        { id: 'c', type: 'catch', z: 'f', scope: null, uncaught: false, wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      assert.deepEqual(
        node('p').status.lastCall?.args[0],
        { fill: 'red', shape: 'ring', text: 'no port set (a serial device or tcp://host:port)' },
        'the reason, in the status',
      );
      const caught = nextMessage<Msg<unknown>>('h');
      node('p').receive({ payload: 'read' });
      const msg = await caught;
      assert.match(msg.error?.message ?? '', /^Error: bms-pack: no port set/);
      assert.equal(msg.error?.source?.id, 'p');
    });
  });

  describe('bms-pack', () => {
    it('sends each pack as the canonical payload, with the values the simulator sent', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: 'all', topic: 'bms/<pack>', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      const seen = new Map<number, Msg<PackPayload>>();
      while (seen.size < 3) {
        const msg = await nextMessage<Msg<PackPayload>>('h');
        seen.set(msg.payload.pack, msg);
      }
      for (const [pack, msg] of seen) {
        assert.equal(msg.topic, `bms/${pack}`);
        assert.deepEqual(Object.keys(msg.payload), [
          'pack',
          'analog',
          'alarms',
          'identity',
          'limits',
          'online',
          'status',
          'ageMs',
          'staleAfterMs',
        ]);
        assert.equal(msg.payload.online, true);
        assert.equal(msg.payload.analog?.cellVoltages.length, 16);
        assert.deepEqual(msg.payload.alarms?.protections, []);
        assertSent(sim, msg.payload);
      }
      assert.match((await statusOf('p', (s) => /packs online/.test(s.text ?? ''))).text ?? '', /^3\/3 packs online$/);
    });

    it('one pack: status shows SOC, voltage and current; an input reads now and answers with that message', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp, { interval: '60' }),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '2', topic: 'battery/<pack>', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      await nextMessage('h');
      const status = await statusOf('p', (s) => s.fill === 'green' && /^SOC/.test(s.text ?? ''));
      assert.match(status.text ?? '', /^SOC \d+ % · \d+\.\d\d V · −\d+\.\d A$/);
      const answer = nextMessage<Msg<PackPayload> & { mine?: string }>('h');
      node('p').receive({ payload: 'now', mine: 'kept' });
      const msg = await answer;
      assert.equal(msg.mine, 'kept', 'the input message is reused');
      assert.equal(msg.topic, 'battery/2');
      assert.equal(msg.payload.pack, 2);
    });

    it('an offline pack turns the status red and its payload offline, with the last values and their age', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '3', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      await nextMessage('h');
      sim.bank.setOffline(3, true);
      const msg = await nextMessage<Msg<PackPayload>>('h', (m) => !m.payload.online);
      assert.ok(msg.payload.analog, 'last good values kept');
      assert.ok((msg.payload.ageMs ?? 0) > 0);
      const status = await statusOf('p', (s) => s.fill === 'red');
      assert.equal(status.shape, 'ring');
    });

    it('only on change: nothing is sent while values stay within the deadband', async () => {
      sim.bank.setCurrent(0);
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '1', onlyOnChange: true, deadband: '50', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      let count = 0;
      events('h').on('input', () => {
        count++;
      });
      await statusOf('p', (s) => /^SOC/.test(s.text ?? ''));
      // Two more poll cycles of the link.
      const connection = (node('l') as unknown as BmsLinkConfigNode).connection!;
      await new Promise<void>((resolve) => {
        let n = 0;
        const seen = (): void => {
          if (++n === 2) {
            connection.off('cycle', seen);
            resolve();
          }
        };
        connection.on('cycle', seen);
      });
      assert.equal(count, 1, 'only the first reading');
      sim.bank.setOffline(1, true);
      await nextMessage<Msg<PackPayload>>('h', (m) => !m.payload.online);
    });

    it('two nodes on one link share one port connection', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p1', type: 'bms-pack', z: 'f', link: 'l', pack: '1', wires: [['h']] },
        { id: 'p2', type: 'bms-pack', z: 'f', link: 'l', pack: '2', wires: [['h']] },
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      await nextMessage<Msg<PackPayload>>('h', (m) => m.payload.pack === 2);
      assert.equal(BmsLink.users(sim.tcp), 1);
      assert.equal(sim.server.connections, 1);
    });
  });

  it('redeploying 50 times releases the port every time and leaves no timer behind', async function () {
    this.timeout(120_000);
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    for (let i = 0; i < 50; i++) {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '1', wires: [['h']] },
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [[]] },
        { id: 'a', type: 'bms-alarms', z: 'f', raise: '5', clear: '5', minLevel: 'warning', wires: [[], []] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      if (i % 10 === 0) await nextMessage('h');
      await helper.unload();
      assert.equal(BmsLink.users(sim.tcp), 0, `deploy ${i}: the link was released`);
    }
    await sim.server.idle();
    assert.equal(sim.server.connections, 0);
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
    // One timer left per deploy would be 50 more; a timer of the test server may come and go.
    assert.ok(timers() <= before + 1, `timers before ${before}, after ${timers()}`);
  });

  it('a setting out of range: the status says which and why (poll interval 0, timeout 0, pack 99)', async () => {
    const cases: [object, object, string][] = [
      [{ interval: '0' }, { type: 'bms-pack', pack: '1' }, 'poll interval must be 1 to 3600 s'],
      [{ timeout: '0' }, { type: 'bms-parallel', source: 'link', stale: '30' }, 'timeout must be 100 to 30000 ms'],
      [{}, { type: 'bms-pack', pack: '99' }, 'pack "99" is not a pack of a bank (1 to 15, or all)'],
    ];
    for (const [link, user, reason] of cases) {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp, link),
        { id: 'u', z: 'f', link: 'l', wires: [[]], ...user },
      ]);
      assert.deepEqual(node('u').status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: reason });
      await helper.unload();
    }
  });

  it('a serial port that does not exist is named as such with the ports there are, and warned about once however often it is retried', async () => {
    const port = '/dev/ttyLFPMISSING7';
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      linkConfig('l', port),
      { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '1', wires: [[]] },
    ]);
    const status = await statusOf('p', (s) => s.text === 'port not found');
    assert.equal(status.fill, 'red');
    const link = node('l') as unknown as {
      connection: NodeJS.EventEmitter;
      warn: { callCount: number; firstCall?: { args: unknown[] } };
    };
    // Two more attempts, each failing the same way.
    for (let i = 0; i < 2; i++)
      await new Promise((resolve) => {
        link.connection.once('error', resolve);
      });
    assert.equal(
      link.warn.callCount,
      1,
      `one warning for a lasting condition: ${JSON.stringify((link.warn as unknown as { args: unknown[][] }).args)}`,
    );
    assert.match(
      String(link.warn.firstCall?.args[0]),
      new RegExp(`^bms-link: ${port} does not exist; serial ports here: `),
    );
  });

  it('a deploy while a silent 15-pack bank is being polled ends at once, and the next flow finds the bank afresh', async () => {
    await sim.stop();
    sim = await startSim({ packs: 15, current: -12 });
    const flow = [
      { id: 'f', type: 'tab' },
      // As shipped: a 1000 ms timeout, so an "all packs" read of 15 packs may take 8.5 s per attempt.
      linkConfig('l', sim.tcp, { timeout: '1000', gap: '50' }),
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '30', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f' },
    ];
    await helper.load(NODES, flow);
    await nextMessage<Msg<BankState>>('h', (m) => m.payload.packsOnline === 15);
    // The bank goes quiet in the middle of a poll: that poll would wait up to 2 × 8.5 s.
    await new Promise<void>((resolve) => {
      sim.server.script = () => {
        resolve();
        return { drop: true };
      };
    });
    const started = Date.now();
    await helper.unload();
    const took = Date.now() - started;
    assert.equal(BmsLink.users(sim.tcp), 0);
    assert.ok(took < 8500, `the flow stopped after ${String(took)} ms, without waiting for the poll on the wire`);
    // The bank shrinks to 14 packs; the next flow discovers that, rather than inheriting 15.
    sim.server.script = undefined;
    sim.bank.setPresent(15, false);
    await helper.load(NODES, flow);
    const state = await nextMessage<Msg<BankState>>('h', (m) => m.payload.packsOnline > 0);
    assert.equal(state.payload.packsExpected, 14);
  });

  describe('bms-parallel', () => {
    it('from the link: the bank state of all packs', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        {
          id: 'b',
          type: 'bms-parallel',
          z: 'f',
          source: 'link',
          link: 'l',
          stale: '30',
          topic: 'bms/bank',
          wires: [['h']],
        },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      const msg = await nextMessage<Msg<BankState>>('h');
      const state = msg.payload;
      assert.equal(msg.topic, 'bms/bank');
      assert.equal(state.packsExpected, 3);
      assert.equal(state.packsOnline, 3);
      const truth = [1, 2, 3].map((n) => sim.bank.truthFor(n).at(-1)!.analog);
      assert.equal(state.current, Math.round(truth.reduce((a, t) => a + t.current, 0) * 100) / 100);
      assert.equal(state.remainingAh, Math.round(truth.reduce((a, t) => a + t.remainingAh, 0) * 100) / 100);
      assert.match((await statusOf('b', (s) => /packs/.test(s.text ?? ''))).text ?? '', /^SOC \d+ % · 3\/3 packs$/);
    });

    it('from bms-pack messages on its input, and a malformed message is refused with a catchable error', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: 'all', wires: [['b']] },
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'input', stale: '30', packs: '1,2,3,4', wires: [['h']] },
        { id: 'c', type: 'catch', z: 'f', scope: ['b'], uncaught: false, wires: [['e']] },
        { id: 'h', type: 'helper', z: 'f' },
        { id: 'e', type: 'helper', z: 'f' },
      ]);
      const state = (await nextMessage<Msg<BankState>>('h', (m) => m.payload.packsOnline === 3)).payload;
      assert.equal(state.packsExpected, 4);
      assert.deepEqual(state.packsOffline, [4]);
      const caught = nextMessage<Msg<unknown>>('e');
      node('b').receive({ payload: { pack: 'one' } });
      assert.match((await caught).error?.message ?? '', /^Error: bms-parallel: msg.payload.pack is not a pack number/);
    });
  });

  describe('bms-alarms', () => {
    let clock: sinon.SinonFakeTimers;
    let faked = false;
    const fake = (config: Parameters<typeof sinon.useFakeTimers>[0]): sinon.SinonFakeTimers => {
      faked = true;
      return sinon.useFakeTimers(config);
    };
    afterEach(() => {
      if (faked) clock.restore();
      faked = false;
    });

    const reading = (pack: number, alarms: string[], protections: string[] = []): object => ({
      payload: {
        pack,
        online: true,
        ageMs: 0,
        analog: null,
        alarms: { balancingCells: [], alarms, protections, faults: [], chargeMos: true, dischargeMos: true },
      },
    });

    it('raises after the debounce, clears after its own delay, and lists what is active', async () => {
      clock = fake({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        {
          id: 'a',
          type: 'bms-alarms',
          z: 'f',
          raise: '5',
          clear: '10',
          include: '',
          exclude: '',
          minLevel: 'warning',
          topic: 'bms/alarms',
          wires: [['changes'], ['list']],
        },
        { id: 'changes', type: 'helper', z: 'f' },
        { id: 'list', type: 'helper', z: 'f' },
      ]);
      type Change = Msg<{ code: string; state: string; level: string; pack: number; text: string; since: string }>;
      const changes: Change[] = [];
      const lists: Msg<unknown[]>[] = [];
      events('changes').on('input', (m: Change) => {
        changes.push(m);
      });
      events('list').on('input', (m: Msg<unknown[]>) => {
        lists.push(m);
      });

      node('a').receive(reading(2, ['OV']));
      await clock.tickAsync(3000);
      node('a').receive(reading(2, []));
      await clock.tickAsync(10_000);
      assert.equal(changes.length, 0, 'a flicker shorter than 5 s never raises');

      node('a').receive(reading(2, ['OV'], ['OVP']));
      await clock.tickAsync(4999);
      assert.equal(changes.length, 0);
      await clock.tickAsync(1);
      assert.deepEqual(
        changes.map((m) => [m.payload.code, m.payload.level, m.payload.state, m.payload.pack]),
        [
          ['OVP', 'protection', 'raised', 2],
          ['OV', 'warning', 'raised', 2],
        ],
      );
      const first = changes[0]!;
      assert.equal(first.payload.text, 'cell over-voltage protection');
      assert.equal(first.payload.since, new Date(Date.UTC(2026, 0, 1) + 13_000).toISOString());
      assert.equal(lists.at(-1)?.payload.length, 2);
      assert.deepEqual(node('a').status.lastCall?.args[0], { fill: 'red', shape: 'dot', text: '2 active' });

      node('a').receive(reading(2, []));
      await clock.tickAsync(9999);
      assert.equal(changes.length, 2);
      await clock.tickAsync(1);
      assert.deepEqual(
        changes.slice(2).map((m) => m.payload.state),
        ['cleared', 'cleared'],
      );
      assert.deepEqual(lists.at(-1)?.payload, [], 'all clear');
      assert.deepEqual(node('a').status.lastCall?.args[0], { fill: 'green', shape: 'dot', text: 'no alarms' });
    });

    it('a pack that stops answering raises OFFLINE (bank state from a real link), and it clears when the pack is back', async () => {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('l', sim.tcp, { interval: '1', timeout: '300' }),
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '2', packs: '', wires: [['a']] },
        {
          id: 'a',
          type: 'bms-alarms',
          z: 'f',
          raise: '0',
          clear: '0',
          minLevel: 'warning',
          offline: 'fault',
          wires: [['changes'], []],
        },
        { id: 'changes', type: 'helper', z: 'f' },
      ]);
      type Change = Msg<{ code: string; state: string; level: string; pack: number }>;
      sim.bank.setOffline(2, true);
      const raised = await nextMessage<Change>('changes', (m) => m.payload.code === 'OFFLINE');
      assert.deepEqual([raised.payload.state, raised.payload.level, raised.payload.pack], ['raised', 'fault', 2]);
      assert.deepEqual(node('a').status.lastCall?.args[0], { fill: 'red', shape: 'dot', text: '1 active' });
      sim.bank.setOffline(2, false);
      const cleared = await nextMessage<Change>('changes', (m) => m.payload.code === 'OFFLINE');
      assert.deepEqual([cleared.payload.state, cleared.payload.pack], ['cleared', 2]);
    });

    it('a flow saved before the offline option raises OFFLINE as a fault; "off" raises nothing', async () => {
      clock = fake({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        { id: 'old', type: 'bms-alarms', z: 'f', raise: '0', clear: '0', minLevel: 'warning', wires: [['h1'], []] },
        {
          id: 'silent',
          type: 'bms-alarms',
          z: 'f',
          raise: '0',
          clear: '0',
          minLevel: 'warning',
          offline: 'off',
          wires: [['h2'], []],
        },
        { id: 'h1', type: 'helper', z: 'f' },
        { id: 'h2', type: 'helper', z: 'f' },
      ]);
      const seen: string[] = [];
      events('h1').on('input', (m: Msg<{ code: string; level: string }>) => {
        seen.push(`old ${m.payload.code} ${m.payload.level}`);
      });
      events('h2').on('input', (m: Msg<{ code: string }>) => {
        seen.push(`off ${m.payload.code}`);
      });
      const offline = { payload: { pack: 4, online: false, ageMs: null, analog: null, alarms: null } };
      node('old').receive(offline);
      node('silent').receive(offline);
      await clock.tickAsync(10);
      assert.deepEqual(seen, ['old OFFLINE fault']);
    });

    it('refuses a payload that is neither a pack reading nor a bank state', async () => {
      clock = fake({ toFake: ['Date'] });
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        { id: 'a', type: 'bms-alarms', z: 'f', raise: '0', clear: '0', minLevel: 'warning', wires: [[], []] },
        { id: 'c', type: 'catch', z: 'f', scope: ['a'], uncaught: false, wires: [['e']] },
        { id: 'e', type: 'helper', z: 'f' },
      ]);
      const caught = nextMessage<Msg<unknown>>('e');
      node('a').receive({ payload: 42 });
      assert.match(
        (await caught).error?.message ?? '',
        /^Error: bms-alarms: msg.payload is neither a bms-pack reading nor a bank state/,
      );
    });
  });
});
