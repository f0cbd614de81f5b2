import type { AlarmLevel, PackCodes, PackInput } from '../../src/bank';

/** A bms-pack payload arriving on the input, or a reason it is not one. */
export function asPackInput(payload: unknown): PackInput | string {
  if (typeof payload !== 'object' || payload === null) return 'msg.payload is not an object';
  const p = payload as Record<string, unknown>;
  if (typeof p.pack !== 'number' || !Number.isInteger(p.pack)) return 'msg.payload.pack is not a pack number';
  if (typeof p.online !== 'boolean') return 'msg.payload.online is missing';
  const analog = p.analog;
  if (
    analog !== null &&
    (typeof analog !== 'object' || !Array.isArray((analog as Record<string, unknown>).cellVoltages))
  ) {
    return 'msg.payload.analog is not a bms-pack analog reading';
  }
  if (p.ageMs !== null && typeof p.ageMs !== 'number') return 'msg.payload.ageMs is not a number';
  if (p.staleAfterMs !== undefined && (typeof p.staleAfterMs !== 'number' || !(p.staleAfterMs > 0)))
    return 'msg.payload.staleAfterMs is not a positive number';
  return payload as PackInput;
}

const GROUP_OF_LEVEL: Readonly<Record<AlarmLevel, keyof Omit<PackCodes, 'pack'>>> = {
  warning: 'alarms',
  protection: 'protections',
  fault: 'faults',
};

/** What packs report, and which are not answering. */
export interface PackReports {
  readonly reporting: PackCodes[];
  readonly offline: number[];
}

/** Codes per pack from a bms-pack payload or a bms-parallel bank state; a reason when neither. */
export function codesFrom(payload: unknown): PackReports | string {
  if (typeof payload !== 'object' || payload === null)
    return 'msg.payload is neither a bms-pack reading nor a bank state';
  const p = payload as Record<string, unknown>;
  if (typeof p.pack === 'number') {
    if (p.online === false) return { reporting: [], offline: [p.pack] };
    const alarms = p.alarms as Partial<PackCodes> | null | undefined;
    // A pack without alarm data (not yet read) reports nothing: its alarms neither raise nor clear.
    if (!alarms) return { reporting: [], offline: [] };
    if (!Array.isArray(alarms.alarms) || !Array.isArray(alarms.protections) || !Array.isArray(alarms.faults))
      return 'msg.payload.alarms is not a bms-pack alarm state';
    return {
      reporting: [{ pack: p.pack, alarms: alarms.alarms, protections: alarms.protections, faults: alarms.faults }],
      offline: [],
    };
  }
  if (Array.isArray(p.packs) && Array.isArray(p.alarms)) {
    const summaries = p.packs as unknown[];
    const isSummary = (s: unknown): s is { pack: number; stale: boolean } =>
      typeof s === 'object' &&
      s !== null &&
      typeof (s as Record<string, unknown>).pack === 'number' &&
      typeof (s as Record<string, unknown>).stale === 'boolean';
    if (!summaries.every(isSummary)) return 'msg.payload.packs is not a list of bank pack summaries';
    const packs = summaries;
    const list = p.alarms as { code: string; level: AlarmLevel; packs: number[] }[];
    const reporting = packs
      .filter((s) => !s.stale)
      .map((s) => {
        const codes: PackCodes = { pack: s.pack, alarms: [], protections: [], faults: [] };
        for (const a of list)
          if (Array.isArray(a.packs) && a.packs.includes(s.pack) && Object.hasOwn(GROUP_OF_LEVEL, a.level))
            (codes[GROUP_OF_LEVEL[a.level]] as string[]).push(a.code);
        return codes;
      });
    return { reporting, offline: packs.filter((s) => s.stale).map((s) => s.pack) };
  }
  return 'msg.payload is neither a bms-pack reading nor a bank state';
}

/** Pack readings from a bms-parallel bank state or a single bms-pack reading; a reason when neither. */
export function packInputsFrom(payload: unknown): PackInput[] | string {
  if (typeof payload === 'object' && payload !== null && Array.isArray((payload as Record<string, unknown>).packs)) {
    const packs = (payload as { packs: unknown[] }).packs;
    const inputs: PackInput[] = [];
    for (const p of packs) {
      const input = asPackInput(p);
      if (typeof input === 'string') return `msg.payload.packs: ${input.replace('msg.payload.', '')}`;
      inputs.push(input);
    }
    return inputs;
  }
  const single = asPackInput(payload);
  return typeof single === 'string'
    ? 'msg.payload is neither a bms-parallel bank state nor a bms-pack reading'
    : [single];
}
