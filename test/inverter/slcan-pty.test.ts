import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PylonCanSender } from '../../src/inverter/can-sender';
import { SlcanBus, type SlcanBusState } from '../../src/link/slcan-bus';
import { encodePylonFrames, pylonFamily, type PylonFamily } from '../../src/protocol/pylon-can';
import { SimulatedBank } from '../../src/sim';
import { SlcanInverterSim, type ReceivedFrame } from '../../src/sim/can-inverter';
import { simInputs } from '../helpers/venus';

const family = (id: string): PylonFamily => {
  const f = pylonFamily(id);
  assert.ok(f);
  return f;
};

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex').toUpperCase();

/** Resolves once `bus` reaches `phase`. */
function phase(bus: SlcanBus, want: SlcanBusState['phase']): Promise<SlcanBusState> {
  if (bus.state.phase === want) return Promise.resolve(bus.state);
  return new Promise((resolve) => {
    const on = (state: SlcanBusState): void => {
      if (state.phase !== want) return;
      bus.off('state', on);
      resolve(state);
    };
    bus.on('state', on);
  });
}

/** Resolves with the frames the emulator received from index `from` on, once there are `count`. */
async function frames(sim: SlcanInverterSim, count: number, from = 0): Promise<ReceivedFrame[]> {
  while (sim.received.length < from + count) await once(sim, 'frame');
  return sim.received.slice(from, from + count);
}

describe('slcan adapter over a pseudo-terminal (real serialport), an emulated inverter behind it', function () {
  this.timeout(30_000);
  let sim: SlcanInverterSim;
  let bus: SlcanBus;
  let sender: PylonCanSender | undefined;

  afterEach(async () => {
    sender?.stop();
    sender = undefined;
    await bus.stop();
    await sim.stop();
  });

  const start = async (options: ConstructorParameters<typeof SlcanInverterSim>[0] = {}): Promise<void> => {
    sim = new SlcanInverterSim({ pty: true, ...options });
    const { pty } = await sim.start();
    bus = new SlcanBus({ port: pty ?? '', reconnectMinMs: 200, reconnectMaxMs: 1000 });
    bus.start();
  };

  it('sets the adapter up (close, 500 kbit/s, open) and hands out the inverter keep-alive', async () => {
    await start();
    await phase(bus, 'open');
    assert.deepEqual(sim.commands, ['C', 'S6', 'O']);
    const [frame] = (await once(bus, 'frame')) as [{ id: number; data: Uint8Array }];
    assert.equal(frame.id, 0x305);
    assert.equal(hex(frame.data), '0000000000000000');
  });

  it('through a serial-to-TCP bridge (tcp://host:port) the same: set up, keep-alive in, frames out', async () => {
    sim = new SlcanInverterSim({});
    const { tcp } = await sim.start();
    bus = new SlcanBus({ port: tcp, reconnectMinMs: 200, reconnectMaxMs: 1000 });
    bus.start();
    await phase(bus, 'open');
    assert.deepEqual(sim.commands, ['C', 'S6', 'O']);
    const [frame] = (await once(bus, 'frame')) as [{ id: number }];
    assert.equal(frame.id, 0x305);
    assert.equal(await bus.send({ id: 0x35e, data: Buffer.from('LFPBANK ') }), true);
    const [received] = await frames(sim, 1);
    assert.equal(received?.frame.id, 0x35e);
  });

  it('the frames reach the inverter byte for byte as the reference lays them out, whatever the adapter answers to a frame', async () => {
    for (const transmitReply of ['cr', 'z', 'none'] as const) {
      await start({ transmitReply });
      await phase(bus, 'open');
      const bank = new SimulatedBank({ packs: 2, seed: 11, current: -15 });
      sender = new PylonCanSender(bus, {
        family: family('pylon'),
        identity: { manufacturer: 'LFPBANK', product: 'LFP', firmware: { major: 1, minor: 0 }, forceChargeSoc: null },
        limits: { kind: 'fixed', cvl: 55.2, ccl: 100, dcl: 150 },
        pollIntervalMs: 5000,
        requireKeepAlive: false,
      });
      sender.feed(simInputs(bank));
      const expected = sender.assess(Date.now()).values;
      assert.ok(expected);
      const report = await sender.tick();
      assert.equal(report.sent, 'set');
      const got = await frames(sim, 6);
      assert.deepEqual(
        got.map((r) => `${r.frame.id.toString(16)}:${hex(r.frame.data)}`),
        encodePylonFrames(expected, family('pylon')).map((f) => `${f.id.toString(16)}:${hex(f.data)}`),
      );
      // The fixed caps as the reference lays them: 552, 1000, 1500 little-endian; bytes 6–7 empty.
      assert.equal(hex(got[0]?.frame.data ?? new Uint8Array()), '2802E803DC050000');
      assert.equal(hex(got[5]?.frame.data ?? new Uint8Array()), Buffer.from('LFPBANK ').toString('hex').toUpperCase());
      sender.stop();
      await bus.stop();
      await sim.stop();
    }
    // afterEach stops the last ones again: harmless.
    await start();
  });

  it('the adapter vanishes (unplugged): the bus says so when reading or sending fails, comes back by itself, sets the adapter up again', async () => {
    await start();
    await phase(bus, 'open');
    const down = phase(bus, 'disconnected');
    const plug = sim.unplug(1500);
    // The read side may notice at once; a frame sent to a vanished device fails for sure.
    const sending = setInterval(() => {
      void bus.send({ id: 0x351, data: new Uint8Array(8) });
    }, 100);
    const state = await down.finally(() => {
      clearInterval(sending);
    });
    assert.match(state.error ?? '', /.+/);
    assert.equal(bus.isOpen, false);
    assert.equal(await bus.send({ id: 0x351, data: new Uint8Array(8) }), false);
    await plug;
    await phase(bus, 'open');
    assert.deepEqual(sim.commands, ['C', 'S6', 'O', 'C', 'S6', 'O']);
    assert.ok(bus.stats.reconnects >= 1);
    const before = sim.received.length;
    assert.equal(await bus.send({ id: 0x351, data: new Uint8Array(8) }), true);
    const [received] = await frames(sim, 1, before);
    assert.equal(received?.frame.id, 0x351);
  });

  it('a device that does not speak slcan: a clear reason, and it keeps trying', async () => {
    // A serial device that never answers slcan.
    sim = new SlcanInverterSim({ pty: true });
    sim.mute = true;
    const { pty } = await sim.start();
    bus = new SlcanBus({ port: pty ?? '', commandTimeoutMs: 200, reconnectMinMs: 300, reconnectMaxMs: 300 });
    bus.start();
    const state = await phase(bus, 'disconnected');
    assert.match(state.error ?? '', /does not answer slcan commands: is it an slcan \(CANable \/ USBtin\) adapter\?/);
    await phase(bus, 'configuring');
  });
});
