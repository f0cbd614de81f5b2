import { CELL_SLOTS, type PackAnalog } from '../protocol';
import { unlessTimeout } from './errors';
import type { BmsLink } from './link';
import { ModbusClient } from './modbus-client';
import type { CallOptions } from './client';

/** What a PACE Modbus bus holds: which addresses answered with the PACE map, and the first pack's identity. */
export interface ModbusDetection {
  readonly packs: readonly number[];
  readonly firmware?: string;
  readonly serial?: string;
}

/**
 * Whether registers 0–36 read as a PACE V1.3 pack would send them (docs/pace-modbus.md#detection):
 * another map answering 0x03 (other firmware, another protocol setting) fails at least one of these.
 */
export function plausiblePaceMap(analog: PackAnalog): boolean {
  const cells = analog.cellVoltages.filter((v) => v !== 0);
  const temperatures = analog.temperatures.filter((t): t is number => t !== null);
  const sum = cells.reduce((a, b) => a + b, 0);
  return (
    analog.voltage >= 20 &&
    analog.voltage <= 65 &&
    (analog.soc ?? 0) <= 100 &&
    (analog.soh ?? 0) <= 100 &&
    cells.length >= 4 &&
    cells.length <= CELL_SLOTS &&
    cells.every((v) => v >= 2 && v <= 4.5) &&
    Math.abs(sum - analog.voltage) <= 1 &&
    temperatures.every((t) => t >= -40 && t <= 100)
  );
}

/**
 * Ask addresses `addresses` for their realtime registers, one at a time, and keep those that answer
 * with a plausible PACE map. Silence, damage and exceptions are "not a PACE Modbus pack here".
 */
export async function detectModbus(
  link: BmsLink,
  addresses: readonly number[],
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<ModbusDetection | undefined> {
  const client = new ModbusClient(link);
  const quiet: CallOptions = {
    priority: 'interactive',
    timeoutMs: options.timeoutMs ?? 600,
    retries: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const packs: number[] = [];
  for (const address of addresses) {
    // Silence, damage and exceptions all mean "no PACE Modbus pack here".
    const analog = await unlessTimeout(
      async () => (await client.call('analog', { pack: address }, { ...quiet, address })).data.packs[0],
    );
    if (analog && plausiblePaceMap(analog)) packs.push(address);
  }
  const first = packs[0];
  if (first === undefined) return undefined;
  const at = { ...quiet, address: first };
  const firmware = await unlessTimeout(async () => (await client.call('version', {}, at)).data.version);
  const serial = await unlessTimeout(async () => (await client.call('serial', {}, at)).data.bmsSerial);
  return { packs, ...(firmware ? { firmware } : {}), ...(serial ? { serial } : {}) };
}
