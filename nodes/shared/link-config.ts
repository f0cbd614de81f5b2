import type { ConnectionOptions } from '../../src/link';
import { isDialect, type Dialect } from '../../src/protocol';

/** The bms-link editor fields, as strings the way the editor stores them. */
export interface LinkConfig {
  port: string;
  baud: string;
  dialect: string;
  mode: string;
  packs: string;
  interval: string;
  timeout: string;
  gap: string;
}

/** Turns the editor's strings into connection options, or says what is wrong with them. */
export function parseLinkConfig(config: Partial<LinkConfig>): { options: ConnectionOptions } | { error: string } {
  const port = (config.port ?? '').trim();
  if (!port) return { error: 'no port set (a serial device or tcp://host:port)' };
  const baud = Number(config.baud ?? 9600);
  if (![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(baud)) return { error: `baud rate ${config.baud ?? ''} is not supported` };
  const dialectText = config.dialect ?? 'auto';
  const dialect: Dialect | 'auto' | undefined = dialectText === 'auto' ? 'auto' : isDialect(dialectText) ? dialectText : undefined;
  if (!dialect) return { error: `unknown dialect "${dialectText}"` };
  const modeText = config.mode ?? 'auto';
  const mode = (['auto', 'broadcast', 'relay'] as const).find((m) => m === modeText);
  if (!mode) return { error: `unknown bank mode "${modeText}"` };
  const packsText = (config.packs ?? 'discover').trim() || 'discover';
  let packs: number[] | 'discover' = 'discover';
  if (packsText !== 'discover') {
    packs = packsText.split(/[\s,]+/).map(Number);
    if (packs.some((n) => !Number.isInteger(n) || n < 0 || n > 254)) return { error: `packs must be "discover" or numbers like 1,2,3 (got "${packsText}")` };
  }
  const interval = Number(config.interval ?? 5);
  const timeout = Number(config.timeout ?? 1000);
  const gap = Number(config.gap ?? 50);
  if (!Number.isFinite(interval) || interval < 1 || interval > 3600) return { error: 'poll interval must be 1 to 3600 s' };
  if (!Number.isFinite(timeout) || timeout < 100 || timeout > 30_000) return { error: 'timeout must be 100 to 30000 ms' };
  if (!Number.isFinite(gap) || gap < 0 || gap > 5000) return { error: 'gap must be 0 to 5000 ms' };
  return {
    options: {
      port, baudRate: baud, dialect, mode, packs,
      intervalMs: interval * 1000, timeoutMs: timeout, gapMs: gap,
    },
  };
}

