import { SimServer, SimulatedBank, type SimBankOptions, type SimServerOptions } from '../../src/sim';

export interface RunningSim {
  readonly bank: SimulatedBank;
  readonly server: SimServer;
  readonly tcp: string;
  readonly pty: string | undefined;
  stop(): Promise<void>;
}

/**
 * A simulated bank on TCP (and a pty when asked). Tests run the wire at 115200 Bd unless they
 * measure something at 9600: the pacing is the same, only faster.
 */
export async function startSim(
  bankOptions: SimBankOptions = {},
  serverOptions: Omit<SimServerOptions, 'bank'> = {},
): Promise<RunningSim> {
  const bank = new SimulatedBank({ packs: 3, current: -20, ...bankOptions });
  const server = new SimServer({ bank, baudRate: 115200, latencyMs: 5, ...serverOptions });
  const endpoints = await server.start();
  return { bank, server, tcp: endpoints.tcp, pty: endpoints.pty, stop: () => server.stop() };
}

/** Resolve on the next `event` of an emitter (no sleeping); unlike events.once, `error` does not reject. */
export function next<T = unknown>(emitter: object, event: string): Promise<T> {
  // Typed emitters (EventEmitter<Events>) take only their own event names; the tests name them as strings.
  const plain = emitter as NodeJS.EventEmitter;
  return new Promise((resolve) => {
    plain.once(event, (value: T) => {
      resolve(value);
    });
  });
}
