import {
  ALL_PACKS,
  READ_HOLDING,
  decodeModbusAlarms,
  decodeModbusAnalog,
  decodeReplyPdu,
  decodeRequestPdu,
  decodeResponse,
  findCommand,
  parseFrame,
  registersOf,
  replyRegisters,
  unknownModbusBits,
  unknownStatusBits,
  type Dialect,
  type ModbusRequest,
  type UnknownBits,
} from '../protocol';
import { SerialScrambler, captureLine, type CaptureLine } from './capture';
import type { Detection } from './detect';
import type { LinkStats } from './link';
import type { WireEvent } from './trace';

/** How one command fared on the wire. */
export interface CommandTiming {
  readonly command: string;
  readonly requests: number;
  readonly replies: number;
  readonly timeouts: number;
  /** ms from request sent to reply heard. */
  readonly latencyMs: { readonly min: number; readonly median: number; readonly max: number } | null;
}

/** What a bug report needs to see of a bank: one JSON file. */
export interface DiagnosisBundle {
  readonly diagnosis: 1;
  readonly tool: string;
  readonly created: string;
  readonly environment: { readonly node: string; readonly platform: string; readonly arch: string };
  readonly port: string;
  readonly baudRate: number;
  /** What detection found (serials left out when anonymised); null when nothing answered. */
  readonly detection: (Omit<Detection, 'serial'> & { readonly serial?: string }) | null;
  /** Baud rates tried without an answer. */
  readonly silentAt: readonly number[];
  readonly timing: readonly CommandTiming[];
  /** Frames heard that were no reply to the request waiting (late, foreign), or damaged. */
  readonly oddFrames: { readonly late: number; readonly foreign: number; readonly damaged: number };
  readonly linkStats: LinkStats | null;
  /** Replies the decoder could not read, with why (unknown tail bytes, a layout this firmware changed …). */
  readonly decodeFailures: readonly { readonly command: string; readonly reply: string; readonly error: string }[];
  /** Status bits the packs set that the dialect's table has no name for. */
  readonly unknownStatusBits: readonly (UnknownBits & { readonly command: string })[];
  /** Every decoded reply, once per command and request. */
  readonly decoded: readonly { readonly command: string; readonly request: string; readonly data: unknown }[];
  readonly anonymised: boolean;
  /** Every frame of the session, as a capture (`lfp-bms sim --replay` takes this list, one per line). */
  readonly frames: readonly CaptureLine[];
}

export interface DiagnosisInput {
  readonly tool: string;
  readonly port: string;
  readonly baudRate: number;
  readonly detection: Detection | null;
  readonly silentAt: readonly number[];
  readonly events: readonly WireEvent[];
  readonly linkStats: LinkStats | null;
  readonly anonymise: boolean;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/**
 * Turns a session's wire events into the diagnosis: timing per command, what could not be decoded
 * and why, status bits without a name, and the frames themselves (serials scrambled on request).
 */
export function buildDiagnosis(input: DiagnosisInput): DiagnosisBundle {
  const found = input.detection?.dialect;
  // Frames of a Modbus bank are not ASCII: no dialect decodes them here.
  const dialect: Dialect | undefined = found === 'pace-modbus' ? undefined : found;
  const mbap = /^modbus-tcp:/i.test(input.port);
  const nameOf = (request: string): string => {
    const modbus = modbusRequestOf(request, mbap);
    if (modbus) return modbusName(modbus);
    try {
      const frame = parseFrame(request);
      const spec = dialect ? findCommand(dialect, frame.cid2) : undefined;
      return `${spec?.name ?? 'unknown'} 0x${frame.cid2.toString(16).toUpperCase().padStart(2, '0')}`;
    } catch {
      return 'unreadable request';
    }
  };
  const scrambler = input.anonymise ? new SerialScrambler() : undefined;
  const frames: CaptureLine[] = [];
  const timing = new Map<string, { requests: number; replies: number; timeouts: number; latencies: number[] }>();
  const odd = { late: 0, foreign: 0, damaged: 0 };
  const decodeFailures: { command: string; reply: string; error: string }[] = [];
  const unknown: (UnknownBits & { command: string })[] = [];
  const decoded = new Map<string, { command: string; request: string; data: unknown }>();
  let asked = '';
  for (const event of input.events) {
    const text = scrambler ? scrambler.apply(event) : event.text;
    frames.push(captureLine(event, text));
    if (event.dir === 'tx') asked = event.text ?? '';
    const command = nameOf(asked);
    const entry = timing.get(command) ?? { requests: 0, replies: 0, timeouts: 0, latencies: [] };
    timing.set(command, entry);
    if (event.kind === 'request') entry.requests++;
    else if (event.kind === 'timeout') entry.timeouts++;
    else if (event.kind === 'late' || event.kind === 'foreign' || event.kind === 'damaged') odd[event.kind]++;
    else if (event.text) {
      entry.replies++;
      if (event.ms !== undefined) entry.latencies.push(event.ms);
      const reply = text ?? event.text;
      const modbus = modbusRequestOf(asked, mbap);
      if (modbus) {
        const result = decodeModbusReply(modbus, reply, mbap);
        if ('error' in result) decodeFailures.push({ command, reply, error: result.error });
        else {
          if (!decoded.has(`${command} ${asked}`))
            decoded.set(`${command} ${asked}`, { command, request: asked, data: result.data });
          for (const bits of result.unknown) unknown.push({ ...bits, command });
        }
        continue;
      }
      const result = decodeResponse(reply, { request: asked, ...(dialect ? { dialect } : {}) });
      if (!result.ok) decodeFailures.push({ command, reply, error: result.message ?? 'not decoded' });
      else if (!decoded.has(`${command} ${asked}`))
        decoded.set(`${command} ${asked}`, { command, request: asked, data: result.data });
      const spoken = dialect ?? result.dialect;
      if (result.ok && spoken && result.command === 'alarms') {
        try {
          const broadcast = parseFrame(asked).info[0] === ALL_PACKS;
          for (const bits of unknownStatusBits(parseFrame(reply).info, spoken, broadcast))
            unknown.push({ ...bits, command });
        } catch {
          // Decoded as alarms, so its blocks read: nothing to add.
        }
      }
    }
  }
  const detection = input.detection && input.anonymise ? withoutSerial(input.detection) : input.detection;
  return {
    diagnosis: 1,
    tool: input.tool,
    created: new Date().toISOString(),
    environment: { node: process.version, platform: process.platform, arch: process.arch },
    port: input.port,
    baudRate: input.baudRate,
    detection,
    silentAt: input.silentAt,
    timing: [...timing]
      .filter(([, t]) => t.requests > 0)
      .map(([command, t]) => ({
        command,
        requests: t.requests,
        replies: t.replies,
        timeouts: t.timeouts,
        latencyMs: t.latencies.length
          ? { min: Math.min(...t.latencies), median: median(t.latencies), max: Math.max(...t.latencies) }
          : null,
      })),
    oddFrames: odd,
    linkStats: input.linkStats,
    decodeFailures,
    unknownStatusBits: unknown,
    decoded: input.anonymise
      ? [...decoded.values()].map((d) => ({ ...d, data: dropSerials(d.data) }))
      : [...decoded.values()],
    anonymised: input.anonymise,
    frames,
  };
}

function withoutSerial(detection: Detection): Omit<Detection, 'serial'> {
  const { serial: _serial, ...rest } = detection;
  return rest;
}

/** Decoded identity replies carry the serials in the clear: those fields go. */
function dropSerials(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!/serial/i.test(k)) out[k] = v;
  return out;
}

/** A few lines for a terminal: what was found and what looks wrong. */
export function describeDiagnosis(b: DiagnosisBundle): string[] {
  const lines: string[] = [];
  if (!b.detection && !b.silentAt.length)
    lines.push(`${b.port} at ${String(b.baudRate)} Bd: the bank as configured (not detected)`);
  else if (!b.detection) lines.push(`${b.port}: no bank answered at ${b.silentAt.join(', ')} Bd`);
  else
    lines.push(
      `${b.port} at ${String(b.baudRate)} Bd: ${b.detection.dialect}, ${b.detection.mode}, packs ${b.detection.packs.join(', ') || 'none'}${b.detection.firmware ? `, firmware ${b.detection.firmware}` : ''}`,
    );
  for (const t of b.timing) {
    const latency = t.latencyMs
      ? `${String(t.latencyMs.min)}/${String(t.latencyMs.median)}/${String(t.latencyMs.max)} ms`
      : 'no reply';
    lines.push(
      `  ${t.command.padEnd(22)} ${String(t.replies)}/${String(t.requests)} answered, ${String(t.timeouts)} timeout(s), latency min/median/max ${latency}`,
    );
  }
  const { late, foreign, damaged } = b.oddFrames;
  if (late + foreign + damaged > 0)
    lines.push(`  frames out of turn: ${String(late)} late, ${String(foreign)} foreign, ${String(damaged)} damaged`);
  for (const f of b.decodeFailures) lines.push(`  not decoded (${f.command}): ${f.error}`);
  for (const u of b.unknownStatusBits)
    lines.push(`  unknown status bits, pack ${String(u.pack)} ${u.field}: ${u.bits.join(', ')}`);
  if (!b.decodeFailures.length && !b.unknownStatusBits.length && b.detection)
    lines.push('  every reply decoded; no unknown status bits');
  return lines;
}

const hexBytes = (text: string): Uint8Array | undefined =>
  /^[0-9A-F]{2}( [0-9A-F]{2})*$/.test(text) ? Uint8Array.from(text.split(' ').map((b) => parseInt(b, 16))) : undefined;

/** A Modbus request from its hex text (RTU, or MBAP on a Modbus-TCP gateway); undefined for an ASCII frame. */
function modbusRequestOf(text: string, mbap: boolean): ModbusRequest | undefined {
  const bytes = hexBytes(text);
  if (!bytes) return undefined;
  try {
    return mbap
      ? decodeRequestPdu(bytes[6] ?? 0, bytes.subarray(7))
      : decodeRequestPdu(bytes[0] ?? 0, bytes.subarray(1, bytes.length - 2));
  } catch {
    return undefined;
  }
}

/** Timing groups Modbus requests by what they ask, not by pack: `read 0+37`, `write 64+4`. */
function modbusName(request: ModbusRequest): string {
  return `${request.function === READ_HOLDING ? 'read' : 'write'} ${String(request.start)}+${String(request.count)}`;
}

/**
 * A Modbus reply read as the diagnosis needs it: the registers (the realtime block decoded, with the
 * status bits V1.3 names no code for), or why it could not be used (an exception, a wrong length).
 */
function decodeModbusReply(
  request: ModbusRequest,
  reply: string,
  mbap: boolean,
): { data: unknown; unknown: UnknownBits[] } | { error: string } {
  const bytes = hexBytes(reply);
  if (!bytes) return { error: 'not a Modbus frame' };
  try {
    const pdu = mbap ? bytes.subarray(7) : bytes.subarray(1, bytes.length - 2);
    const registers = replyRegisters(request, decodeReplyPdu(request, pdu));
    if (request.function !== READ_HOLDING) return { data: { written: request.count }, unknown: [] };
    const regs = registersOf(request.start, registers);
    if (request.start > 0 || request.start + request.count < 37) return { data: Object.fromEntries(regs), unknown: [] };
    const pack = request.unit;
    const unknown = unknownModbusBits(regs).map((u) => ({
      pack,
      field: `register ${String(u.register)}`,
      bits: u.bits,
    }));
    return { data: { analog: decodeModbusAnalog(regs, pack), alarms: decodeModbusAlarms(regs, pack) }, unknown };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
