import {
  ALL_PACKS,
  DIALECT_PROFILES,
  decodeResponse,
  encodeRequest,
  isFrameError,
  resolveDialect,
  type Dialect,
  type Frame,
} from '../protocol';
import { BmsClient, type BankProtocol } from './client';
import { LinkError, isLinkError, unlessTimeout } from './errors';
import { BmsLink, type LinkOptions } from './link';
import { detectModbus } from './modbus-detect';
import { isTcpPort } from './transport';
import type { WireEvent } from './trace';

export type BankMode = 'broadcast' | 'relay';

export interface Detection {
  readonly dialect: BankProtocol;
  /** VER and CID1 the packs answer with (they may claim another version than the dialect's). */
  readonly version: number;
  readonly cid1: number;
  readonly baudRate: number;
  /** Header ADR of the first reply: a pack answering from an unexpected address shows here. */
  readonly responderAddress: number;
  /** How the bank can be read: through the master ("all packs") or pack by pack. */
  readonly mode: BankMode;
  /** Pack numbers that answered (broadcast: online slots of the master's reply). */
  readonly packs: readonly number[];
  /** Slots the master reports but cannot reach. */
  readonly offlinePacks: readonly number[];
  readonly firmware?: string;
  readonly serial?: string;
}

export interface DetectOptions {
  /** Probe pack by pack at addresses 1..15 too (slow when packs are absent). */
  readonly scanAddresses?: boolean;
  readonly probeTimeoutMs?: number;
  /** Abandon detection (its requests leave the queue at once). */
  readonly signal?: AbortSignal;
  /** Look for PACE Modbus packs only (addresses 1..15), not the ASCII protocols first. */
  readonly protocol?: 'pace-modbus';
}

interface Probe {
  readonly dialect: Dialect;
  readonly address: number;
  readonly pack: number;
}

/** docs/protocol.md#detection: PACE on ADR 01 then 00, then 0x20 at the Pylontech / Seplos addresses, then EG4. */
const PROBES: readonly Probe[] = [
  { dialect: 'pace', address: 1, pack: 1 },
  { dialect: 'pace', address: 0, pack: 1 },
  { dialect: 'pylontech', address: 2, pack: 2 },
  { dialect: 'pylontech', address: 1, pack: 1 },
  { dialect: 'seplos', address: 0, pack: 0 },
  { dialect: 'eg4', address: 1, pack: 1 },
];

/**
 * Find out what is on the bus: dialect, version, packs present, firmware. Asked afresh every time
 * (a bank found by one user of a port is not assumed by the next: packs come and go).
 */
export async function detect(link: BmsLink, options: DetectOptions = {}): Promise<Detection> {
  const timeoutMs = options.probeTimeoutMs ?? 600;
  // A master scanning its slaves (`~25xx4690…` requests nobody here sent) means the link jack between packs.
  let masterScans = 0;
  const watch = (event: WireEvent): void => {
    if (event.dir === 'rx' && /^~25[0-9A-F]{2}4690/.test(event.text ?? '')) masterScans++;
  };
  link.on('wire', watch);
  try {
    // A Modbus-TCP gateway carries nothing else.
    if (options.protocol === 'pace-modbus' || link.modbusFraming === 'mbap') {
      const modbus = await detectModbusBank(link, { ...options, scanAddresses: true }, timeoutMs);
      if (modbus) return modbus;
      throw new LinkError(
        'timeout',
        `no PACE Modbus pack answered at addresses 1 to 15 on ${link.port} at ${String(link.baudRate)} Bd (check the RS485 inverter jack, A/B, the DIP addresses and that its protocol is PACE_MODBUS)`,
      );
    }
    for (const probe of PROBES) {
      const found = await tryProbe(link, probe, timeoutMs, options.signal);
      if (!found) continue;
      return await explore(link, found, options, timeoutMs);
    }
    if (masterScans === 0) {
      const modbus = await detectModbusBank(link, options, timeoutMs);
      if (modbus) return modbus;
    }
  } finally {
    link.off('wire', watch);
  }
  if (masterScans > 0)
    throw new LinkError(
      'config',
      `${link.port} carries a master pack scanning its slaves (~25xx4690 frames): this is the link jack between packs; connect to the master's RS232 port or a pack's RS485 inverter jack`,
    );
  throw new LinkError(
    'timeout',
    `nothing on ${link.port} at ${link.baudRate} Bd answered a PACE, Pylontech, Seplos, EG4 or PACE Modbus probe (check wiring, TX/RX, baud and the port's protocol setting)`,
  );
}

const MODBUS_PROBE_TIMEOUT_MS = 300;

/** PACE Modbus: address 1 first, then (when asked to scan, or once 1 answered) the other DIP addresses. */
async function detectModbusBank(
  link: BmsLink,
  options: DetectOptions,
  timeoutMs: number,
): Promise<Detection | undefined> {
  // V1.3 packs answer within 200 ms: an absent address need not cost the ASCII probes' wait.
  const probe = {
    timeoutMs: Math.min(timeoutMs, MODBUS_PROBE_TIMEOUT_MS),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const first = await detectModbus(link, [1], probe);
  if (!first && !options.scanAddresses) return undefined;
  const rest = await detectModbus(link, range(2, 15), probe);
  const packs = [...(first?.packs ?? []), ...(rest?.packs ?? [])];
  const identity = first ?? rest;
  if (!packs.length || !identity) return undefined;
  return {
    dialect: 'pace-modbus',
    version: 0,
    cid1: 0,
    baudRate: link.baudRate,
    responderAddress: packs[0] ?? 1,
    mode: 'relay',
    packs,
    offlinePacks: [],
    ...(identity.firmware ? { firmware: identity.firmware } : {}),
    ...(identity.serial ? { serial: identity.serial } : {}),
  };
}

interface Found {
  readonly dialect: Dialect;
  readonly version: number;
  readonly cid1: number;
  readonly address: number;
  readonly responderAddress: number;
}

async function tryProbe(
  link: BmsLink,
  probe: Probe,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Found | undefined> {
  const request = encodeRequest('analog', { pack: probe.pack }, { dialect: probe.dialect, address: probe.address });
  let reply;
  try {
    // Any well-formed reply tells us something is there, whatever dialect it claims.
    reply = await link.request(request, {
      priority: 'interactive',
      timeoutMs,
      retries: 0,
      accept: () => true,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if ((isLinkError(err) && err.kind === 'timeout') || isFrameError(err)) return undefined;
    throw err;
  }
  const dialect = replyDialect(reply.frame, probe.dialect);
  // Decoded in the dialect the reply speaks, not the one we asked in: a Pylontech bank answers a
  // PACE probe in Pylontech units, and reading those as PACE would give wrong currents.
  const result = decodeResponse(reply.text, { request, dialect });
  if (!result.ok) return undefined;
  return {
    dialect,
    version: reply.frame.version,
    cid1: reply.frame.cid1,
    address: probe.address,
    responderAddress: reply.frame.address,
  };
}

/** VER 0x25 is PACE; VER 0x20 is Pylontech, Seplos or EG4 (by CID1 and the UD byte); other versions keep the probe's. */
function replyDialect(reply: Frame, asked: Dialect): Dialect {
  if (reply.version === 0x25) return 'pace';
  if (reply.version === 0x20 || reply.cid1 === 0x4a) return resolveDialect(reply, 0x42, reply.info);
  return asked;
}

async function explore(link: BmsLink, found: Found, options: DetectOptions, timeoutMs: number): Promise<Detection> {
  const profile = DIALECT_PROFILES[found.dialect];
  const client = new BmsClient(link, {
    dialect: found.dialect,
    ...(found.version !== profile.version ? { version: found.version } : {}),
    ...(found.cid1 !== profile.cid1 ? { cid1: found.cid1 } : {}),
  });
  const quiet = {
    priority: 'interactive' as const,
    timeoutMs,
    retries: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const optional = unlessTimeout;

  let mode: BankMode = 'relay';
  let packs: number[] = [];
  let offline: number[] = [];
  if (found.dialect === 'pace' || found.dialect === 'pylontech') {
    const count =
      found.dialect === 'pace'
        ? await optional(
            async () => (await client.call('packCount', {}, { ...quiet, address: found.address })).data.packCount,
          )
        : undefined;
    const all = await optional(
      async () =>
        (
          await client.call(
            'analog',
            { pack: ALL_PACKS },
            {
              ...quiet,
              address: profile.masterAddress,
              expectedPacks: count ?? 15,
            },
          )
        ).data.packs,
    );
    if (all && all.length > 0) {
      mode = 'broadcast';
      packs = all.filter((p) => p.online).map((p) => p.pack);
      offline = all.filter((p) => !p.online).map((p) => p.pack);
    }
  }
  if (mode === 'relay' || options.scanAddresses) {
    const relay: number[] = [];
    const candidates = options.scanAddresses ? range(0, 15) : [found.address];
    for (const address of candidates) {
      const ok = await optional(
        async () => (await client.call('analog', { pack: address }, { ...quiet, address })).data,
      );
      if (ok) relay.push(address);
    }
    if (mode === 'relay') packs = relay;
  }

  let firmware: string | undefined;
  let serial: string | undefined;
  if (found.dialect === 'pace') {
    firmware = await optional(
      async () => (await client.call('version', {}, { ...quiet, address: found.address })).data.version,
    );
    serial = await optional(
      async () => (await client.call('serial', {}, { ...quiet, address: found.address })).data.bmsSerial,
    );
  } else {
    const info = await optional(
      async () => (await client.call('manufacturer', {}, { ...quiet, address: found.address })).data,
    );
    if (info) firmware = `${info.deviceName ?? ''} ${info.softwareVersion ?? ''}`.trim();
    if (found.dialect === 'pylontech') {
      serial = await optional(
        async () =>
          (await client.call('serial', { pack: found.address }, { ...quiet, address: found.address })).data.serial,
      );
    }
  }
  return {
    dialect: found.dialect,
    version: found.version,
    cid1: found.cid1,
    baudRate: link.baudRate,
    responderAddress: found.responderAddress,
    mode,
    packs,
    offlinePacks: offline,
    ...(firmware ? { firmware } : {}),
    ...(serial ? { serial } : {}),
  };
}

/**
 * Try each baud rate in turn (9600 PACE/EG4/Seplos, 115200 Pylontech, 19200 some Seplos) on a serial
 * port nobody else is using. TCP gateways fix the baud rate themselves: one attempt.
 */
export async function detectPort(
  options: LinkOptions & DetectOptions & { readonly baudRates?: readonly number[] },
): Promise<Detection> {
  const bauds = isTcpPort(options.port)
    ? [options.baudRate ?? 9600]
    : (options.baudRates ?? [options.baudRate ?? 9600]);
  let lastError: unknown;
  for (const baudRate of bauds) {
    const link = BmsLink.acquire({ ...options, baudRate, reconnectMinMs: 60_000 });
    try {
      await link.open();
      return await detect(link, options);
    } catch (err) {
      lastError = err;
      if (isLinkError(err) && err.kind !== 'timeout') throw err;
    } finally {
      await link.release();
    }
  }
  throw lastError instanceof Error ? lastError : new LinkError('timeout', `nothing answered on ${options.port}`);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
