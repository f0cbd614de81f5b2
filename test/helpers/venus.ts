import type { PackInput } from '../../src/bank';
import type { SimPack, SimulatedBank } from '../../src/sim';

/** The simulator's packs as readings, exactly as it would send them (its ground truth). */
export function simInputs(
  bank: SimulatedBank,
  packs: readonly number[] = bank.packs.map((_, i) => i + 1),
): PackInput[] {
  return packs.map((n) => {
    const p = bank.pack(n);
    return {
      pack: n,
      analog: { ...p.analog(bank.dialect), pack: n },
      alarms: p.alarms(bank.dialect),
      online: true,
      ageMs: 0,
      identity: { serial: p.serial, firmware: p.firmware },
    };
  });
}

/** Move a pack's cells to exact voltages (on top of the simulator's own spread). */
export function setCells(pack: SimPack, volts: readonly number[] | number): void {
  const now = pack.cellVoltages();
  now.forEach((have, i) => {
    const want = typeof volts === 'number' ? volts : (volts[i] ?? have);
    pack.cellOffsetsMv[i] = (pack.cellOffsetsMv[i] ?? 0) + Math.round((want - have) * 1000);
  });
}
