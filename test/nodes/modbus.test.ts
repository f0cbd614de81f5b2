import assert from 'node:assert/strict';
import type { SinonSpy } from 'sinon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BankState } from '../../src/bank';
import type { PackOutcome, PackPayload } from '../../src/link';
import { MODBUS_PARAMETER_GROUPS, decodeModbusAlarms, decodeModbusAnalog } from '../../src/protocol';
import { ModbusBank, SimServer, SimulatedBank } from '../../src/sim';
import { NODES, helper, linkConfig, nextMessage, node, startServer, statusOf, stopServer } from '../helpers/red';

interface Msg<T> {
  topic?: string;
  payload: T;
  error?: { message: string };
}

/**
 * The nodes on a bank whose packs speak PACE Modbus on one RS485 bus, through the real serialport
 * stack on a pty: bms-pack, bms-parallel and bms-alarms work unchanged; what needs the ASCII protocol
 * says so.
 */
describe('nodes on a PACE Modbus bank (pty, RTU)', function () {
  this.timeout(30_000);
  let bank: SimulatedBank;
  let packs: ModbusBank;
  let server: SimServer;
  let pty: string;

  let userDir: string;

  before(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'lfp-red-'));
    helper.settings({ userDir });
    await startServer();
  });
  after(async () => {
    await stopServer();
    helper.settings({});
    rmSync(userDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    bank = new SimulatedBank({ packs: 3, current: -12 });
    packs = new ModbusBank(bank);
    server = new SimServer({ bank: packs, pty: true, baudRate: 19200, latencyMs: 5 });
    pty = (await server.start()).pty ?? '';
  });
  afterEach(async () => {
    await helper.unload();
    await server.stop();
  });

  const link = (extra: object = {}): object =>
    linkConfig('l', pty, { baud: '19200', dialect: 'pace-modbus', packs: '1,2,3', ...extra });

  it('bms-pack sends every pack as the canonical payload, decoded from the registers each pack sent', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      link(),
      { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: 'all', topic: 'bms/<pack>', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f' },
    ]);
    const seen = new Map<number, PackPayload>();
    while (seen.size < 3) {
      const msg = await nextMessage<Msg<PackPayload>>('h');
      seen.set(msg.payload.pack, msg.payload);
    }
    for (const [pack, payload] of seen) {
      const sent = packs.lastRegisters.get(pack);
      assert.ok(sent && payload.analog && payload.alarms);
      assert.equal(payload.online, true);
      const { pack: _a, ...analog } = decodeModbusAnalog(sent, pack);
      const { pack: _b, ...alarms } = decodeModbusAlarms(sent, pack);
      // The payload carries what the pack's last read said (values move with time: compare shapes and slow fields).
      assert.equal(payload.analog.cellVoltages.length, analog.cellVoltages.length);
      assert.equal(payload.analog.designAh, analog.designAh);
      assert.equal(payload.analog.cycles, analog.cycles);
      assert.deepEqual(payload.alarms.protections, alarms.protections);
      assert.equal(payload.identity?.serial, bank.pack(pack).serial);
    }
    assert.equal((await statusOf('p', (s) => /packs online/.test(s.text ?? ''))).text, '3/3 packs online');
  });

  it('bms-parallel aggregates the bank; a pack that falls silent goes offline in the bank state', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      link(),
      { id: 'b', type: 'bms-parallel', z: 'f', source: 'link', link: 'l', stale: '3', packs: '', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f' },
    ]);
    const first = await nextMessage<Msg<BankState>>('h', (m) => m.payload.packsOnline === 3);
    assert.equal(first.payload.packsExpected, 3);
    bank.setOffline(2, true);
    const degraded = await nextMessage<Msg<BankState>>('h', (m) => m.payload.packsOnline === 2);
    assert.deepEqual(degraded.payload.packsOffline, [2]);
  });

  it('bms-params writes a confirmed change through 0x10, reads it back, and keeps a backup', async () => {
    await helper.load(
      NODES,
      [
        { id: 'f', type: 'tab' },
        link({ allowWrites: true, interval: '5' }),
        {
          id: 'n',
          type: 'bms-params',
          z: 'f',
          link: 'l',
          pack: '2',
          mode: 'dry-run',
          rating: '',
          wires: [['out'], []],
        },
        { id: 'out', type: 'helper', z: 'f' },
      ],
      { n: { password: 'secret' } },
    );
    const out = nextMessage<Msg<PackOutcome>>('out');
    node('n').receive({ payload: { balancing: { startVoltage: 3.42 } }, confirm: true });
    const outcome = (await out).payload;
    assert.equal(outcome.result?.ok, true, JSON.stringify(outcome.result));
    assert.deepEqual(outcome.result.written, ['balancing']);
    assert.ok(outcome.backupFile?.startsWith(join(userDir, 'lifepo4-bms')));
    assert.equal(bank.pack(2).parameters.balancing?.startVoltage, 3.42);
  });

  it('through a Modbus-TCP gateway: bms-pack reads every pack the link discovered', async () => {
    const gateway = new SimServer({
      bank: new ModbusBank(new SimulatedBank({ packs: 15, current: 3 }), { framing: 'mbap' }),
      latencyMs: 2,
      baudRate: 115200,
    });
    const { tcp } = await gateway.start();
    try {
      await helper.load(NODES, [
        { id: 'f', type: 'tab' },
        linkConfig('g', tcp.replace(/^tcp:/, 'modbus-tcp:'), { dialect: 'auto', packs: 'discover' }),
        { id: 'p', type: 'bms-pack', z: 'f', link: 'g', pack: 'all', topic: 'bms/<pack>', wires: [['h']] },
        { id: 'h', type: 'helper', z: 'f' },
      ]);
      const seen = new Set<number>();
      while (seen.size < 15) {
        const msg = await nextMessage<Msg<PackPayload>>('h');
        if (msg.payload.online) seen.add(msg.payload.pack);
      }
      assert.equal((await statusOf('p', (st) => /packs online/.test(st.text ?? ''))).text, '15/15 packs online');
    } finally {
      await helper.unload();
      await gateway.stop();
    }
  });

  for (const transport of ['pty (RTU)', 'Modbus-TCP gateway'] as const) {
    it(`every node on a ${transport}: readings, bank, alarms, record, Home Assistant, parameters; clock and history refused`, async () => {
      const mbap = transport !== 'pty (RTU)';
      const gateway = mbap
        ? new SimServer({ bank: new ModbusBank(bank, { framing: 'mbap' }), baudRate: 115200, latencyMs: 2 })
        : undefined;
      const port = gateway ? (await gateway.start()).tcp.replace(/^tcp:/, 'modbus-tcp:') : pty;
      try {
        await helper.load(
          NODES,
          [
            { id: 'f', type: 'tab' },
            linkConfig('l', port, { baud: '19200', dialect: 'pace-modbus', packs: '1,2,3', interval: '2' }),
            { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: 'all', topic: 'bms/<pack>', wires: [['hp']] },
            {
              id: 'b',
              type: 'bms-parallel',
              z: 'f',
              source: 'link',
              link: 'l',
              stale: '30',
              packs: '',
              wires: [['hb', 'a', 'r']],
            },
            { id: 'a', type: 'bms-alarms', z: 'f', raise: '0', clear: '0', minLevel: 'warning', wires: [[], []] },
            {
              id: 'r',
              type: 'bms-record',
              z: 'f',
              dir: 'modbus',
              bankEvery: '5',
              packsEvery: '5',
              keepDays: '62',
              maxMb: '100',
              wires: [['hr'], []],
            },
            {
              id: 'm',
              type: 'bms-mqtt',
              z: 'f',
              source: 'link',
              link: 'l',
              interval: '10',
              stale: '30',
              wires: [['hm']],
            },
            {
              id: 'n',
              type: 'bms-params',
              z: 'f',
              link: 'l',
              pack: '3',
              mode: 'dry-run',
              rating: '',
              wires: [['hn'], []],
            },
            { id: 'hi', type: 'bms-history', z: 'f', link: 'l', pack: '1', wires: [[], []] },
            { id: 'c', type: 'bms-control', z: 'f', link: 'l', pack: '1', wires: [[]] },
            { id: 'x', type: 'catch', z: 'f', scope: ['hi', 'c'], uncaught: false, wires: [['caught']] },
            ...['hp', 'hb', 'hr', 'hm', 'hn', 'caught'].map((id) => ({ id, type: 'helper', z: 'f' })),
          ],
          { n: { password: 'secret' } },
        );
        const sampled = nextMessage<Msg<{ soc: number | null }>>('hr', (m) => m.topic === 'sample');
        const announced = nextMessage<Msg<string>>('hm', (m) => m.topic?.endsWith('/config') === true);
        const packsSeen = new Set<number>();
        while (packsSeen.size < 3) packsSeen.add((await nextMessage<Msg<PackPayload>>('hp')).payload.pack);
        const state = await nextMessage<Msg<BankState>>('hb', (m) => m.payload.packsOnline === 3);
        assert.equal(state.payload.packsExpected, 3);
        const sample = await sampled;
        assert.equal(sample.payload.soc, state.payload.soc);
        // The test helper's status spy is shared by every node: the calls made on bms-alarms are its own.
        const alarmStatus = (node('a').status as unknown as SinonSpy)
          .getCalls()
          .filter((call) => call.thisValue === node('a'))
          .at(-1)?.args[0] as { text?: string } | undefined;
        assert.equal(alarmStatus?.text, 'no alarms');
        assert.match((await announced).topic ?? '', /^homeassistant\/\w+\/lfpbms_/);
        const read = nextMessage<Msg<PackOutcome>>('hn');
        node('n').receive({ action: 'read' });
        const outcome = (await read).payload;
        assert.equal(outcome.pack, 3);
        assert.equal(Object.keys(outcome.parameters).length, MODBUS_PARAMETER_GROUPS.length);
        for (const [id, action] of [
          ['hi', 'download'],
          ['c', 'readClock'],
        ] as const) {
          const caught = nextMessage<Msg<unknown>>('caught');
          node(id).receive({ action, payload: null });
          assert.match((await caught).error?.message ?? '', /this bank speaks pace-modbus$/);
        }
      } finally {
        await helper.unload();
        await gateway?.stop();
      }
    });
  }

  it('bms-params writes serial numbers only for a message that confirms, and sends what the pack then holds', async () => {
    await helper.load(
      NODES,
      [
        { id: 'f', type: 'tab' },
        link({ allowWrites: true, interval: '5' }),
        { id: 'n', type: 'bms-params', z: 'f', link: 'l', pack: '1', mode: 'apply', rating: '', wires: [['out'], []] },
        { id: 'out', type: 'helper', z: 'f' },
        { id: 'x', type: 'catch', z: 'f', scope: ['n'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f' },
      ],
      { n: { password: 'secret' } },
    );
    // The node's apply mode is not enough: the message itself must confirm.
    const refused = nextMessage<Msg<unknown>>('caught');
    node('n').receive({ action: 'writeIdentity', payload: { serial: 'NEW-1' } });
    assert.equal((await refused).error?.message, 'Error: bms-params: writing serial numbers needs msg.confirm = true');
    const out = nextMessage<Msg<{ after: { serial?: string } }>>('out');
    node('n').receive({ action: 'writeIdentity', payload: { serial: 'NEW-1' }, confirm: true });
    assert.equal((await out).payload.after.serial, 'NEW-1');
    assert.equal(bank.pack(1).serial, 'NEW-1');
  });

  it('bms-control refuses clock and switch commands with a one-line reason: they need the ASCII protocol', async () => {
    await helper.load(NODES, [
      { id: 'f', type: 'tab' },
      link(),
      { id: 'c', type: 'bms-control', z: 'f', link: 'l', pack: '1', wires: [['h']] },
      { id: 'h', type: 'helper', z: 'f' },
      { id: 'x', type: 'catch', z: 'f', scope: ['c'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f' },
    ]);
    const caught = nextMessage<Msg<unknown>>('caught');
    node('c').receive({ action: 'readClock', payload: null });
    assert.equal(
      (await caught).error?.message,
      'Error: bms-control: these commands are PACE 0x25 commands; this bank speaks pace-modbus',
    );
  });
});
