import { agedInputs, type HeldInput, type PackInput } from '../../src/bank';

/**
 * Pack readings arriving one message at a time (bms-pack), kept by pack so each new one can be
 * aggregated with the latest of the others. Ages count from the reading, plus the time it has
 * waited here since.
 */
export class PackCollector {
  private readonly received = new Map<number, HeldInput>();

  add(input: PackInput, now: number): PackInput[] {
    this.received.set(input.pack, { input, at: now });
    return agedInputs(this.received.values(), now);
  }

  clear(): void {
    this.received.clear();
  }
}
