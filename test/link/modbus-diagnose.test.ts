import assert from 'node:assert/strict';
import { BmsLink, ModbusClient, type WireEvent } from '../../src/link';
import { SerialScrambler, captureLine, type CaptureLine } from '../../src/link/capture';
import { buildDiagnosis, describeDiagnosis } from '../../src/link/diagnose';
import {
  RtuStreamFramer,
  bytesHex,
  decodeModbusIdentity,
  decodeReplyPdu,
  registersOf,
  replyRegisters,
} from '../../src/protocol';
import { ModbusBank, ReplayBank, SimBus, SimulatedBank } from '../../src/sim';
import { fakeTime, type FakeTime } from '../helpers/wire';

/** Packs whose register 11 sets a bit V1.3 leaves reserved (bit 3), as an unknown firmware might. */
class ReservedBitBank extends ModbusBank {
  override registers(unit: number): Map<number, number> {
    const regs = super.registers(unit);
    regs.set(11, (regs.get(11) ?? 0) | (1 << 3));
    return regs;
  }
}

describe('diagnosis and capture of a PACE Modbus bank (fake time, simulated bus)', function () {
  this.timeout(30_000);
  let time: FakeTime;
  let link: BmsLink;
  let bank: SimulatedBank;
  const events: WireEvent[] = [];

  beforeEach(() => {
    time = fakeTime();
    bank = new SimulatedBank({ packs: 2, current: -8 });
    const bus = new SimBus(new ReservedBitBank(bank), { latencyMs: 30 });
    link = BmsLink.acquire({ port: 'tcp://modbus-diagnose.test:1', transportFactory: bus.factory });
    events.length = 0;
    link.on('wire', (e) => events.push(e));
  });
  afterEach(async () => {
    await link.close();
    time.restore();
  });

  it('names each read by its registers, decodes the realtime block, lists the reserved status bit, and keeps the serials out', async () => {
    const client = new ModbusClient(link);
    for (const pack of [1, 2]) {
      await time.run(client.call('analog', { pack }, { address: pack }));
      await time.run(client.call('serial', {}, { address: pack }));
    }
    const bundle = buildDiagnosis({
      tool: 'test',
      port: 'tcp://modbus-diagnose.test:1',
      baudRate: 9600,
      detection: null,
      silentAt: [],
      events,
      linkStats: { ...link.stats },
      anonymise: true,
    });
    assert.deepEqual(
      bundle.timing.map((t) => [t.command, t.requests, t.replies]),
      [
        ['read 0+37', 2, 2],
        ['read 160+20', 2, 2],
      ],
    );
    assert.deepEqual(bundle.decodeFailures, []);
    assert.deepEqual(
      bundle.unknownStatusBits.map((u) => [u.pack, u.field, u.bits]),
      [
        [1, 'register 11', [3]],
        [2, 'register 11', [3]],
      ],
    );
    // The serial replies were scrambled, still intact frames (CRC good), the firmware untouched.
    const serialText = JSON.stringify(bundle.frames);
    for (const pack of [1, 2])
      assert.ok(!serialText.includes(bytesHex(Buffer.from(bank.pack(pack).serial))), `serial of pack ${String(pack)}`);
    const replies = bundle.frames.filter((f) => f.kind === 'reply' && f.text?.startsWith('01 03 28'));
    assert.equal(replies.length, 1);
    const framer = new RtuStreamFramer();
    const [frame] = framer.push(Uint8Array.from((replies[0]?.text ?? '').split(' ').map((b) => parseInt(b, 16))));
    assert.ok(frame?.type === 'frame', 'the scrambled reply is still a valid RTU frame');
    const request = { unit: 1, function: 3 as const, start: 160, count: 20 };
    const scrambled = decodeModbusIdentity(
      registersOf(160, replyRegisters(request, decodeReplyPdu(request, frame.pdu))),
    );
    assert.notEqual(scrambled.serial, bank.pack(1).serial);
    assert.equal(scrambled.serial?.length, bank.pack(1).serial.length);
    assert.match(describeDiagnosis(bundle).join('\n'), /unknown status bits, pack 1 register 11: 3/);
  });

  for (const framing of ['rtu', 'mbap'] as const) {
    it(`a capture of a Modbus bank (${framing}) replays: the same reads get the same values`, async () => {
      await link.close();
      const bus = new SimBus(new ModbusBank(bank, { framing }), { latencyMs: 30 });
      const scheme = framing === 'mbap' ? 'modbus-tcp' : 'tcp';
      const recorded = BmsLink.acquire({ port: `${scheme}://modbus-capture.test:1`, transportFactory: bus.factory });
      const lines: CaptureLine[] = [];
      recorded.on('wire', (e) => lines.push(captureLine(e, e.text)));
      const read = async (at: BmsLink): Promise<unknown[]> => {
        const client = new ModbusClient(at);
        const out: unknown[] = [];
        for (const pack of [1, 2]) out.push((await time.run(client.call('analog', { pack }, { address: pack }))).data);
        return out;
      };
      const original = await read(recorded);
      await recorded.close();
      const replay = new ReplayBank(lines);
      assert.equal(replay.framing, framing);
      link = BmsLink.acquire({
        port: `${scheme}://modbus-replay.test:1`,
        transportFactory: new SimBus(replay, { latencyMs: 30 }).factory,
      });
      assert.deepEqual(await read(link), original);
      assert.deepEqual(replay.unknown, []);
    });
  }

  it('the scrambler leaves requests, realtime replies and other frames as they are', () => {
    const scrambler = new SerialScrambler();
    const request = '01 03 00 00 00 25 84 11';
    assert.equal(scrambler.apply({ at: 0, dir: 'tx', kind: 'request', text: request }), request);
    const reply = '01 83 02 C0 F1';
    assert.equal(scrambler.apply({ at: 1, dir: 'rx', kind: 'reply', text: reply }), reply);
  });
});
