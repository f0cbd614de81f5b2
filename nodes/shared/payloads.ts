import type { AlarmLevel, PackCodes, PackInput } from '../../src/bank';
import { asError } from '../../src/errors';
import { englishTexts, type Texts } from './i18n';

/** A bms-pack payload arriving on the input (at `field` of the message), or a reason it is not one. */
export function asPackInput(payload: unknown, t: Texts = englishTexts, field = 'msg.payload'): PackInput | string {
  if (typeof payload !== 'object' || payload === null) return t('bms-link.payload.notObject', { field });
  const p = payload as Record<string, unknown>;
  if (typeof p.pack !== 'number' || !Number.isInteger(p.pack))
    return t('bms-link.payload.pack', { field: `${field}.pack` });
  if (typeof p.online !== 'boolean') return t('bms-link.payload.missing', { field: `${field}.online` });
  const analog = p.analog;
  if (
    analog !== null &&
    (typeof analog !== 'object' || !Array.isArray((analog as Record<string, unknown>).cellVoltages))
  ) {
    return t('bms-link.payload.analog', { field: `${field}.analog` });
  }
  if (p.ageMs !== null && typeof p.ageMs !== 'number') return t('bms-link.payload.number', { field: `${field}.ageMs` });
  if (p.staleAfterMs !== undefined && (typeof p.staleAfterMs !== 'number' || !(p.staleAfterMs > 0)))
    return t('bms-link.payload.positive', { field: `${field}.staleAfterMs` });
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
export function codesFrom(payload: unknown, t: Texts = englishTexts): PackReports | string {
  if (typeof payload !== 'object' || payload === null) return t('bms-link.payload.neitherPackNorBank');
  const p = payload as Record<string, unknown>;
  if (typeof p.pack === 'number') {
    if (p.online === false) return { reporting: [], offline: [p.pack] };
    const alarms = p.alarms as Partial<PackCodes> | null | undefined;
    // A pack without alarm data (not yet read) reports nothing: its alarms neither raise nor clear.
    if (!alarms) return { reporting: [], offline: [] };
    if (!Array.isArray(alarms.alarms) || !Array.isArray(alarms.protections) || !Array.isArray(alarms.faults))
      return t('bms-link.payload.alarms');
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
    if (!summaries.every(isSummary)) return t('bms-link.payload.summaries');
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
  return t('bms-link.payload.neitherPackNorBank');
}

/** Pack readings from a bms-parallel bank state or a single bms-pack reading; a reason when neither. */
export function packInputsFrom(payload: unknown, t: Texts = englishTexts): PackInput[] | string {
  if (typeof payload === 'object' && payload !== null && Array.isArray((payload as Record<string, unknown>).packs)) {
    const packs = (payload as { packs: unknown[] }).packs;
    const inputs: PackInput[] = [];
    for (const [i, p] of packs.entries()) {
      const input = asPackInput(p, t, `msg.payload.packs[${String(i)}]`);
      if (typeof input === 'string') return input;
      inputs.push(input);
    }
    return inputs;
  }
  const single = asPackInput(payload, t);
  return typeof single === 'string' ? t('bms-link.payload.neitherBankNorPack') : [single];
}

/**
 * The input of a node that takes the bank from its link or from messages (bms-venus, bms-inverter):
 * with a link, any message reads the bank now (the cycle then feeds the node); otherwise the payload
 * is a bank state or pack readings. `feed` undefined: the node's configuration is unusable, `problem` says why.
 */
export function bankInput(
  type: string,
  link: { readonly connection: { pollNow(): Promise<unknown> } | undefined } | null,
  feed: ((packs: PackInput[]) => void) | undefined,
  problem: string,
  t: Texts = englishTexts,
): (msg: { payload?: unknown }, done: (err?: Error) => void) => void {
  return (msg, done) => {
    if (!feed) {
      done(new Error(`${type}: ${problem}`));
      return;
    }
    if (link) {
      const connection = link.connection;
      if (!connection) {
        done(new Error(`${type}: ${t('bms-link.common.noConnection')}`));
        return;
      }
      connection
        .pollNow()
        .then(() => {
          done();
        })
        .catch((err: unknown) => {
          done(asError(err));
        });
      return;
    }
    const inputs = packInputsFrom(msg.payload, t);
    if (typeof inputs === 'string') {
      done(new Error(`${type}: ${inputs}`));
      return;
    }
    feed(inputs);
    done();
  };
}
