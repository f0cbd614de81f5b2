import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChargeMode } from '../bank';
import { historyFrom, type BankHistory } from './history';

/** What a bank keeps across restarts of Node-RED. */
export interface BridgeMemory {
  readonly customName: string | null;
  readonly history: BankHistory;
  readonly chargeMode: ChargeMode | null;
}

const MODES: readonly ChargeMode[] = ['bulk', 'absorption', 'float-transition', 'float'];

/** The stored memory; an absent or damaged file gives an empty one (and is replaced on save). */
export function loadMemory(file: string): BridgeMemory {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    raw = null;
  }
  const v = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    customName: typeof v.customName === 'string' ? v.customName : null,
    history: historyFrom(v.history),
    chargeMode: MODES.find((m) => m === v.chargeMode) ?? null,
  };
}

export function saveMemory(file: string, memory: BridgeMemory): void {
  saveJson(file, memory);
}

/** Written to a temporary file first, so a power cut never leaves half a file. */
export function saveJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, file);
}

/** The bank id a node last published under (when the pack serial cannot be read this time). */
export function loadRememberedId(file: string): string | undefined {
  try {
    const value = (JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown }).id;
    return typeof value === 'string' && value ? value : undefined;
  } catch {
    return undefined;
  }
}

export function saveRememberedId(file: string, id: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ id })}\n`);
}
