import {
  FrameError,
  MODBUS_PARAMETER_GROUPS,
  ModbusError,
  PARAMETER_FIELDS,
  ParameterError,
  PARAMETER_GROUPS,
  checkParameters,
  parameterCommand,
  planParameters,
  type Fields,
  type ParameterChange,
  type ParameterPlan,
  type ParameterSet,
} from '../protocol';
import { addressed, readSerial, type ParameterClient } from './client';
import { readUntilAgreed, requireUndisturbed, sameData } from './confirm';
import { errorMessage } from './errors';
import type { LinkSession } from './link';

/** Discharge over-current reads back negative but is written positive (docs/pitfalls.md#p-16): the set holds it positive. */
function normalize(group: string, data: Fields): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const [field, value] of Object.entries(data)) {
    if (typeof value === 'number')
      out[field] =
        group === 'dischargeOverCurrent1' && (field === 'alarm' || field === 'protect') ? Math.abs(value) : value;
    else if (typeof value === 'boolean') out[field] = value;
  }
  return out;
}

/** One read of a group, as the pack answers it. */
export async function readGroup(
  client: ParameterClient,
  address: number | undefined,
  group: string,
): Promise<Record<string, number | boolean>> {
  const { data } = await client.call(
    parameterCommand(group, 'read'),
    {},
    { priority: 'interactive', retries: 0, ...addressed(address) },
  );
  return normalize(group, data);
}

/** A group as two reads in a row agree on it (see `readUntilAgreed`). */
export function readGroupConfirmed(
  client: ParameterClient,
  address: number | undefined,
  group: string,
): Promise<Record<string, number | boolean>> {
  return readUntilAgreed(() => readGroup(client, address, group), sameData, `reading ${group}`);
}

/** The groups a client's packs have: all of them in the ASCII protocol, those with registers in PACE Modbus. */
export function parameterGroups(client: Pick<ParameterClient, 'dialect'>): readonly string[] {
  const modbus = new Set(MODBUS_PARAMETER_GROUPS.map((g) => g.group));
  return PARAMETER_GROUPS.map((g) => g.group).filter((g) => client.dialect !== 'pace-modbus' || modbus.has(g));
}

/** Every parameter group of the pack at `address`, in SI units, each confirmed by two reads. */
export async function readParameters(client: ParameterClient, address?: number): Promise<ParameterSet> {
  if (client.dialect === 'pace-modbus') {
    // One read of registers 60–114 holds every group: two such reads in a row agree on all of them.
    const readAll = async (): Promise<ParameterSet> =>
      (await client.call('readParameters', {}, { priority: 'interactive', retries: 0, ...addressed(address) })).data;
    return readUntilAgreed(readAll, sameData, 'reading the parameters');
  }
  const set: ParameterSet = {};
  for (const group of parameterGroups(client)) set[group] = await readGroupConfirmed(client, address, group);
  return set;
}

export interface FieldMismatch {
  readonly field: string;
  readonly wrote: number | boolean;
  readonly read: number | boolean | null;
}

export interface WriteResult {
  readonly ok: boolean;
  /** Groups written and read back equal, in order. */
  readonly written: readonly string[];
  /** Of those, groups whose acknowledgement never came (the read-back shows them written). */
  readonly unacknowledged: readonly string[];
  /** Groups the plan had that were not (or not correctly) written. */
  readonly notWritten: readonly string[];
  readonly failed?: {
    readonly group: string;
    /** `unconfirmed`: sent, but no two reads agreed afterwards, so whether the pack took it is unknown. */
    readonly kind: 'refused' | 'mismatch' | 'error' | 'unconfirmed';
    readonly reason: string;
    readonly mismatches?: readonly FieldMismatch[];
  };
}

function mismatchesOf(
  group: string,
  wrote: Record<string, number | boolean>,
  read: Record<string, number | boolean>,
): FieldMismatch[] {
  return Object.entries(wrote).flatMap(([field, value]) => {
    const back = read[field];
    const step = PARAMETER_FIELDS.get(`${group}.${field}`)?.step ?? 0;
    const same =
      typeof value === 'number' && typeof back === 'number'
        ? Math.abs(value - back) <= step / 2 + 1e-9
        : value === back;
    return same ? [] : [{ field: `${group}.${field}`, wrote: value, read: back ?? null }];
  });
}

/**
 * Writes each group whole (what it holds now, with the planned fields replaced) and reads it back
 * until two reads agree, then compares. A write whose acknowledgement is lost is judged by that
 * read-back too. Stops at the first refusal, mismatch or doubt and says what was and was not written.
 */
export async function writeGroups(
  client: ParameterClient,
  address: number | undefined,
  base: ParameterSet,
  plan: Pick<ParameterPlan, 'changes' | 'groups'>,
): Promise<WriteResult> {
  const written: string[] = [];
  const unacknowledged: string[] = [];
  for (const [i, group] of plan.groups.entries()) {
    const payload: Record<string, number | boolean> = { ...base[group] };
    for (const c of plan.changes) if (c.field.startsWith(`${group}.`)) payload[c.field.slice(group.length + 1)] = c.to;
    const notWritten = plan.groups.slice(i);
    const stop = (failed: NonNullable<WriteResult['failed']>, still = notWritten): WriteResult => ({
      ok: false,
      written,
      unacknowledged,
      notWritten: still,
      failed,
    });
    let sendError: unknown;
    try {
      // No retry: a lost acknowledgement is settled by the read-back, not by writing twice.
      await client.call(parameterCommand(group, 'write'), payload, {
        ...addressed(address),
        priority: 'interactive',
        retries: 0,
      });
    } catch (err) {
      if ((err instanceof FrameError && err.kind === 'rtn') || (err instanceof ModbusError && err.kind === 'exception'))
        return stop({ group, kind: 'refused', reason: `the pack refused ${group} (${err.message})` });
      sendError = err;
    }
    let back: Record<string, number | boolean>;
    try {
      back = await readGroupConfirmed(client, address, group);
    } catch (err) {
      return stop({
        group,
        kind: 'unconfirmed',
        reason: `${group} was sent, but whether the pack took it is unknown (${errorMessage(err)}): read the pack again`,
      });
    }
    const mismatches = mismatchesOf(group, payload, back);
    if (mismatches.length) {
      if (sendError !== undefined && mismatchesOf(group, base[group] ?? {}, back).length === 0) {
        return stop({
          group,
          kind: 'error',
          reason: `writing ${group} failed (${errorMessage(sendError)}); the pack still holds its old values`,
        });
      }
      const first = mismatches[0];
      return stop({
        group,
        kind: 'mismatch',
        mismatches,
        reason: `${group} reads back different: ${first?.field ?? ''} wrote ${String(first?.wrote)}, pack has ${String(first?.read)}`,
      });
    }
    written.push(group);
    if (sendError !== undefined) unacknowledged.push(group);
  }
  return { ok: true, written, unacknowledged, notWritten: [] };
}

/** Puts the backed-up values of `groups` back (a rollback), verified like any write. */
export async function restoreGroups(
  client: ParameterClient,
  address: number | undefined,
  backup: ParameterSet,
  groups: readonly string[],
): Promise<WriteResult> {
  const changes = groups.flatMap((group) =>
    Object.entries(backup[group] ?? {}).map(([field, to]) => ({ field: `${group}.${field}`, from: null, to })),
  );
  return writeGroups(client, address, backup, {
    changes,
    groups: PARAMETER_GROUPS.map((g) => g.group).filter((g) => groups.includes(g)),
  });
}

/** 0xA4: the pack's own factory protection parameters. */
export async function restoreFactoryDefaults(client: ParameterClient, address?: number): Promise<void> {
  await client.call('restoreDefaults', {}, { priority: 'interactive', retries: 0, ...addressed(address) });
}

export interface ParameterJob {
  /** Pack addresses, done one at a time; the batch stops at the first failure. */
  readonly packs: readonly number[];
  readonly action: 'read' | 'write' | 'restoreDefaults';
  /** For `write`: a partial set (a change, an imported set or a backup to roll back to). */
  readonly desired?: unknown;
  /** false: dry run, nothing is sent but reads. */
  readonly apply: boolean;
  /** Pack rating (A); default 1.2 × the design capacity in Ah. */
  readonly ratedCurrent?: number;
}

export interface AuditRecord {
  readonly time: string;
  readonly pack: number;
  readonly serial: string | null;
  readonly action: ParameterJob['action'];
  readonly changes: readonly ParameterChange[];
  readonly result: string;
}

export interface PackOutcome {
  readonly pack: number;
  readonly serial: string | null;
  readonly action: ParameterJob['action'];
  readonly dryRun: boolean;
  /** What the pack held before (a read, and the backup of a write). */
  readonly parameters: ParameterSet;
  /** Remaining, full and design capacity (0xA6), read with the parameters; not written here. */
  readonly capacity?: { readonly remainingAh: number; readonly fullAh: number; readonly designAh: number };
  readonly plan?: ParameterPlan;
  readonly backupFile?: string;
  readonly result?: WriteResult;
  /** After restoring defaults: what changed. */
  readonly changes?: readonly ParameterChange[];
}

export interface JobHooks {
  /** Keep a backup before anything is written; returns where it went. */
  readonly backup: (pack: number, serial: string | null, parameters: ParameterSet) => string;
  readonly audit: (record: AuditRecord) => void;
  readonly now?: () => Date;
}

/** A parameter job that stopped: what each pack got so far, and why it stopped. */
export class ParameterJobError extends Error {
  override readonly name = 'ParameterJobError';
  constructor(
    message: string,
    readonly outcomes: readonly PackOutcome[],
  ) {
    super(message);
  }
}

function diff(before: ParameterSet, after: ParameterSet): ParameterChange[] {
  return PARAMETER_GROUPS.flatMap(({ group }) =>
    Object.entries(after[group] ?? {}).flatMap(([field, to]) => {
      const from = before[group]?.[field] ?? null;
      return from === to ? [] : [{ field: `${group}.${field}`, from, to }];
    }),
  );
}

async function identify(
  client: ParameterClient,
  address: number,
): Promise<{ serial: string | null; cellCount: number; designAh: number | null }> {
  const serial = await readSerial(client, address).catch(() => null);
  const { data } = await client.call('analog', { pack: address }, { address, priority: 'interactive' });
  const [pack] = data.packs;
  return { serial, cellCount: pack?.cellVoltages.length ?? 0, designAh: pack?.designAh ?? pack?.fullAh ?? null };
}

/**
 * Read, plan (dry run) or apply a parameter change on one pack after another: validate before any
 * frame, read the pack, plan against what it holds, back it up, write group by group with read-back,
 * audit every attempt, stop at the first failure with what was and was not written.
 *
 * Each pack is done with the bus to itself (polling waits; so does any other job on the link), from
 * the first read to the last read-back: what was read is what is changed. Every value read is
 * confirmed by a second read, and nothing is written when anything disturbed the bus before the
 * first write (a timeout, a late or a damaged reply).
 */
export async function runParameterJob(
  client: ParameterClient,
  job: ParameterJob,
  hooks: JobHooks,
): Promise<PackOutcome[]> {
  if (job.action === 'write') checkParameters(job.desired);
  const outcomes: PackOutcome[] = [];
  const now = (): string => (hooks.now?.() ?? new Date()).toISOString();
  for (const pack of job.packs) {
    try {
      await client.exclusive((own, session) => onePack(own, session, pack));
    } catch (err) {
      if (err instanceof ParameterJobError) throw err;
      hooks.audit({
        time: now(),
        pack,
        serial: null,
        action: job.action,
        changes: [],
        result: `failed: ${errorMessage(err)}`,
      });
      throw new ParameterJobError(`pack ${String(pack)}: ${errorMessage(err)}`, outcomes);
    }
  }
  return outcomes;

  async function onePack(own: ParameterClient, session: LinkSession, pack: number): Promise<void> {
    const { serial, cellCount, designAh } = await identify(own, pack);
    const parameters = await readParameters(own, pack);
    const audit = (changes: readonly ParameterChange[], result: string): void => {
      hooks.audit({ time: now(), pack, serial, action: job.action, changes, result });
    };
    if (job.action === 'read') {
      const { data } = await own.call('readCapacity', {}, { address: pack, priority: 'interactive' });
      const capacity = { remainingAh: data.remainingAh, fullAh: data.fullAh, designAh: data.designAh };
      outcomes.push({ pack, serial, action: 'read', dryRun: true, parameters, capacity });
      return;
    }
    if (job.action === 'restoreDefaults') {
      if (own.dialect === 'pace-modbus')
        throw new ParameterError(['PACE Modbus (V1.3) has no restore-defaults command: use the ASCII protocol']);
      if (!job.apply) {
        audit([], 'dry run');
        outcomes.push({ pack, serial, action: job.action, dryRun: true, parameters });
        return;
      }
      requireUndisturbed(session);
      const backupFile = hooks.backup(pack, serial, parameters);
      let sendError = '';
      await restoreFactoryDefaults(own, pack).catch((err: unknown) => {
        sendError = errorMessage(err);
      });
      const after = await readParameters(own, pack);
      const changes = diff(parameters, after);
      const result = sendError
        ? `restore sent without acknowledgement (${sendError}); the pack now holds ${String(changes.length)} changed value(s)`
        : 'factory parameters restored';
      audit(changes, result);
      outcomes.push({ pack, serial, action: job.action, dryRun: false, parameters, backupFile, changes });
      return;
    }
    let plan: ParameterPlan;
    try {
      plan = planParameters(parameters, job.desired, {
        cellCount,
        ratedCurrent: job.ratedCurrent ?? Math.round((designAh ?? 0) * 1.2),
      });
      // A field the pack does not report has no place to go (PACE Modbus has no enable flags, no limiter current).
      const missing = plan.changes.filter((c) => {
        const [group = '', field = ''] = c.field.split('.');
        return own.dialect === 'pace-modbus' && parameters[group]?.[field] === undefined;
      });
      if (missing.length)
        throw new ParameterError(
          missing.map((c) => `${c.field} has no PACE Modbus register: set it with the ASCII protocol`),
        );
    } catch (err) {
      audit([], `rejected: ${errorMessage(err)}`);
      throw new ParameterJobError(`pack ${String(pack)}: ${errorMessage(err)}`, outcomes);
    }
    if (!job.apply || plan.changes.length === 0) {
      audit(plan.changes, job.apply ? 'nothing to change' : 'dry run');
      outcomes.push({ pack, serial, action: job.action, dryRun: !job.apply, parameters, plan });
      return;
    }
    try {
      requireUndisturbed(session);
    } catch (err) {
      audit(plan.changes, `not written: ${errorMessage(err)}`);
      throw new ParameterJobError(`pack ${String(pack)}: ${errorMessage(err)}`, outcomes);
    }
    const backupFile = hooks.backup(pack, serial, parameters);
    const result = await writeGroups(own, pack, parameters, plan);
    const outcome: PackOutcome = {
      pack,
      serial,
      action: job.action,
      dryRun: false,
      parameters,
      plan,
      backupFile,
      result,
    };
    outcomes.push(outcome);
    const lost = result.unacknowledged.length
      ? ` (acknowledgement lost for ${result.unacknowledged.join(', ')}; the read-back shows them written)`
      : '';
    if (!result.ok) {
      const summary = `${result.failed?.reason ?? 'failed'}; written: ${result.written.join(', ') || 'nothing'}; not written: ${result.notWritten.join(', ')}${lost}`;
      audit(plan.changes, `failed: ${summary}`);
      throw new ParameterJobError(
        `pack ${String(pack)}: ${summary} (backup in ${backupFile}: send it back as a write to roll back)`,
        outcomes,
      );
    }
    audit(plan.changes, `applied and verified${lost}`);
  }
}

/** Serial numbers a PACE Modbus pack keeps in registers 160–179 (V1.3 lets them be written). */
export interface IdentityChange {
  readonly serial?: string;
  readonly packSerial?: string;
}

export interface IdentityOutcome {
  readonly pack: number;
  readonly before: IdentityChange;
  readonly after: IdentityChange;
}

/**
 * Writes a pack's serial numbers, which nothing else here ever writes: only on PACE Modbus, with
 * the bus to itself, after reading what the pack holds (two reads agreeing) and nothing disturbing
 * the bus, then reads them back until two reads agree and compares. Audited either way.
 */
export async function writeIdentity(
  client: ParameterClient,
  pack: number,
  change: IdentityChange,
  audit: (record: AuditRecord) => void,
  now: () => Date = () => new Date(),
): Promise<IdentityOutcome> {
  if (client.dialect !== 'pace-modbus')
    throw new ParameterError([
      `serial numbers can be written on PACE Modbus packs only; this bank speaks ${client.dialect}`,
    ]);
  const read = async (own: ParameterClient): Promise<IdentityChange> => {
    const { data } = await own.call('serial', {}, { address: pack, priority: 'interactive', retries: 0 });
    return {
      ...(data.bmsSerial !== undefined ? { serial: data.bmsSerial } : {}),
      ...(data.packSerial !== undefined ? { packSerial: data.packSerial } : {}),
    };
  };
  return client.exclusive(async (own, session) => {
    const before = await readUntilAgreed(() => read(own), sameData, 'reading the serial numbers');
    // Audit records hold numeric changes; the serials (text) go into the result line.
    const record = (result: string, after: IdentityChange): void => {
      const fields = (['serial', 'packSerial'] as const).filter((k) => change[k] !== undefined);
      const said = fields.map(
        (k) =>
          `${k} ${JSON.stringify(before[k] ?? null)} → ${JSON.stringify(change[k])} (reads ${JSON.stringify(after[k] ?? null)})`,
      );
      audit({
        time: now().toISOString(),
        pack,
        serial: before.serial ?? null,
        action: 'write',
        changes: [],
        result: `${result}: ${said.join(', ')}`,
      });
    };
    requireUndisturbed(session);
    let sendError: unknown;
    try {
      await own.call('writeIdentity', { ...change }, { address: pack, priority: 'interactive', retries: 0 });
    } catch (err) {
      if (err instanceof FrameError && err.kind === 'range') throw new ParameterError([err.message]);
      sendError = err;
    }
    const after = await readUntilAgreed(() => read(own), sameData, 'reading the serial numbers back');
    const wrong = (['serial', 'packSerial'] as const).filter((k) => change[k] !== undefined && after[k] !== change[k]);
    if (wrong.length) {
      record('failed', after);
      throw new Error(
        `the pack holds ${wrong.map((k) => `${k} ${JSON.stringify(after[k] ?? null)}`).join(', ')} after the write${sendError !== undefined ? ` (${errorMessage(sendError)})` : ''}`,
      );
    }
    record('written and verified', after);
    return { pack, before, after };
  });
}
