import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { PackInput } from '../src/bank';
import { SimulatedBank } from '../src/sim';
import { VenusBridge, startPrivateBus, type ServiceState } from '../src/venus';
import type { BenchResult } from './codec';

const CYCLES = 300;

function inputs(bank: SimulatedBank): PackInput[] {
  return bank.packs.map((p, i) => ({
    pack: i + 1,
    analog: { ...p.analog(), pack: i + 1 },
    alarms: p.alarms(),
    online: true,
    ageMs: 0,
    identity: { serial: p.serial },
  }));
}

/** Bytes the bridge's bus connection wrote (dbus-next keeps its socket on the connection). */
function bytesWritten(bridge: VenusBridge): number {
  const bus = (bridge.service as unknown as { bus?: { _connection?: { stream?: Socket } } } | undefined)?.bus;
  return bus?._connection?.stream?.bytesWritten ?? 0;
}

async function run(address: string, propertiesChanged: boolean): Promise<BenchResult[]> {
  let t = 1_700_000_000_000;
  const bank = new SimulatedBank({ packs: 15, seed: 42, current: -60, now: () => t });
  const bridge = new VenusBridge({
    busAddress: address,
    fallbackId: 'bench',
    connection: 'bench',
    pollIntervalMs: 1000,
    propertiesChanged,
    clock: () => t,
    watchdogMs: 3_600_000,
  });
  try {
    bridge.feed(inputs(bank));
    await new Promise<void>((resolve) => {
      const check = (state: ServiceState): void => {
        if (state.phase === 'registered') {
          bridge.off('state', check);
          resolve();
        }
      };
      bridge.on('state', check);
    });
    let signals = 0;
    let paths = 0;
    (bridge.service as EventEmitter).on('signals', (s: number, p: number) => {
      signals += s;
      paths += p;
    });
    const bytesBefore = bytesWritten(bridge);
    let cpu = 0;
    for (let i = 0; i < CYCLES; i++) {
      t += 1000;
      // A load that changes every second, as a real inverter does.
      bank.setCurrent(-60 + 40 * Math.sin(i / 10));
      bank.advance();
      const packs = inputs(bank);
      const start = process.cpuUsage();
      bridge.feed(packs, t);
      const used = process.cpuUsage(start);
      cpu += used.user + used.system;
      // Let the socket drain, as the next poll cycle would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const bytes = bytesWritten(bridge) - bytesBefore;
    const mode = propertiesChanged ? 'ItemsChanged + PropertiesChanged' : 'ItemsChanged only';
    const detail = `15 packs × 16 cells, ${String(bridge.service?.tree.specs.size ?? 0)} paths, ${String(CYCLES)} cycles, ${mode}`;
    return [
      {
        name: `D-Bus signals per publish cycle (${mode})`,
        value: signals / CYCLES,
        unit: 'signals',
        detail: `${(paths / CYCLES).toFixed(1)} changed paths per cycle; ${detail}`,
      },
      { name: `D-Bus bytes per publish cycle (${mode})`, value: bytes / CYCLES, unit: 'bytes', detail },
      {
        name: `CPU per publish cycle (${mode})`,
        value: cpu / CYCLES / 1000,
        unit: 'ms',
        detail: `aggregation, charge control, items, marshalling; ${detail}`,
      },
    ];
  } finally {
    await bridge.stop();
  }
}

export async function dbusBenchmarks(): Promise<BenchResult[]> {
  const bus = await startPrivateBus();
  try {
    return [...(await run(bus.address, true)), ...(await run(bus.address, false))];
  } finally {
    await bus.stop();
  }
}
