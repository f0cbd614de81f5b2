import { FrameStreamParser, decodeResponse, encodeRequest, encodeResponse, type AnalogData } from '../src/protocol';

/** Real 16-cell PACE 0x42 reply (Jakiper JK48V100, vector P25-42-A) and its request. */
const SINGLE_REQUEST = '~25014642E00201FD30';
const SINGLE_REPLY =
  '~25014600F07A0001100CC70CC80CC70CC70CC70CC50CC60CC70CC70CC60CC70CC60CC60CC70CC60CC7060B9B0B990B990B990BB30BBCFF1FCCCD12D303286A008C2710E1E4';

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail: string;
}

/** Operations per second: the median of `rounds` timed rounds of at least `ms` each. */
export function opsPerSecond(fn: () => void, ms = 400, rounds = 5): number {
  for (let i = 0; i < 2000; i++) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < ms) {
      for (let i = 0; i < 500; i++) fn();
      n += 500;
      elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    }
    rates.push((n * 1000) / elapsed);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? 0;
}

export function codecBenchmarks(): BenchResult[] {
  const single = decodeResponse(SINGLE_REPLY, { request: SINGLE_REQUEST });
  if (!single.ok) throw new Error('benchmark frame does not decode');
  const pack = (single.data as unknown as AnalogData).packs[0];
  if (!pack) throw new Error('benchmark frame has no pack');
  const packs = Array.from({ length: 15 }, (_, i) => ({ ...pack, pack: i + 1 }));
  const bankRequest = encodeRequest('analog', { pack: 0xff }, { dialect: 'pace' });
  const bankReply = encodeResponse('analog', { packs }, { dialect: 'pace', address: 1, request: { pack: 0xff } });
  const check = decodeResponse(bankReply, { request: bankRequest });
  if (!check.ok || (check.data as unknown as AnalogData).packs.length !== 15)
    throw new Error('15-pack frame does not decode');

  const singleRate = opsPerSecond(() => decodeResponse(SINGLE_REPLY, { request: SINGLE_REQUEST }));
  const bankRate = opsPerSecond(() => decodeResponse(bankReply, { request: bankRequest }));
  const encodeRate = opsPerSecond(() =>
    encodeResponse('analog', { packs }, { dialect: 'pace', address: 1, request: { pack: 0xff } }),
  );
  // What a USB adapter at 9600 Bd delivers: the reply in pieces of about 10 bytes.
  const wire = Buffer.from(`${bankReply}\r`, 'latin1');
  const pieces = Array.from({ length: Math.ceil(wire.length / 10) }, (_, i) => wire.subarray(i * 10, i * 10 + 10));
  const parser = new FrameStreamParser();
  const streamRate = opsPerSecond(() => {
    for (const piece of pieces) parser.push(piece);
  });
  // A line full of "~" (a hostile or broken device): each byte must cost the same, not the buffer again.
  const flood = Buffer.alloc(65_536, 0x7e);
  const floodRate = opsPerSecond(
    () => {
      parser.push(flood);
    },
    400,
    5,
  );
  return [
    {
      name: 'stream parser: 15-pack reply in 10-byte pieces',
      value: streamRate,
      unit: 'replies/s',
      detail: `${pieces.length} pieces of ${wire.length} bytes; ${(1e6 / streamRate / pieces.length).toFixed(2)} µs per piece`,
    },
    {
      name: 'stream parser: 64 KB of "~" in one chunk',
      value: 1000 / floodRate,
      unit: 'ms per chunk',
      detail: `${((1e6 / floodRate / 65_536) * 1000).toFixed(1)} ns per byte`,
    },
    {
      name: 'decode PACE 0x42, 1 pack (16 cells, 6 temps)',
      value: singleRate,
      unit: 'frames/s',
      detail: `${SINGLE_REPLY.length + 1} bytes on the wire`,
    },
    {
      name: 'decode PACE 0x42 broadcast, 15 packs',
      value: bankRate,
      unit: 'frames/s',
      detail: `${bankReply.length + 1} bytes, ${(bankRate * 15).toFixed(0)} packs/s`,
    },
    {
      name: 'encode PACE 0x42 broadcast, 15 packs (simulator side)',
      value: encodeRate,
      unit: 'frames/s',
      detail: `${bankReply.length + 1} bytes`,
    },
  ];
}
