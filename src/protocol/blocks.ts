import { ByteReader } from './bytes';
import { FrameError } from './errors';

/**
 * Per-pack blocks of a 0x42/0x44 reply. `equal`: the master pads every pack to one length, so the
 * block length is derived from LENID and the pack count, never from a UD byte (docs/pitfalls.md#p-12).
 * `walk`: blocks describe their own length (Pylontech 0x42) and are read one after the other.
 */
export type BlockSplit = 'equal' | 'walk';

export interface PackBlock<T> {
  readonly pack: number;
  readonly value: T;
}

export function readBlocks<T>(
  info: Uint8Array,
  broadcast: boolean,
  split: BlockSplit,
  readBlock: (reader: ByteReader) => T,
): PackBlock<T>[] {
  if (info.length < 2) throw new FrameError('length', `INFO of ${info.length} byte(s) has no pack data`);
  const second = info[1] ?? 0;
  if (!broadcast) return [{ pack: second, value: readBlock(new ByteReader(info, 2)) }];
  const bodyLength = info.length - 2;

  const count = second;
  if (count === 0) {
    if (bodyLength > 0) throw new FrameError('length', `reply announces 0 packs but carries ${bodyLength} bytes`);
    return [];
  }
  const out: PackBlock<T>[] = [];
  if (split === 'equal') {
    if (bodyLength % count !== 0) {
      throw new FrameError('length', `${bodyLength} bytes of pack data do not divide into ${count} equal blocks`);
    }
    const size = bodyLength / count;
    for (let i = 0; i < count; i++) {
      out.push({ pack: i + 1, value: readBlock(new ByteReader(info, 2 + i * size, 2 + (i + 1) * size)) });
    }
    return out;
  }
  const reader = new ByteReader(info, 2);
  for (let i = 0; i < count; i++) out.push({ pack: i + 1, value: readBlock(reader) });
  if (reader.remaining > 0) {
    throw new FrameError('length', `${reader.remaining} byte(s) left over after ${count} pack blocks`);
  }
  return out;
}

export function writeBlocks(
  blocks: readonly Uint8Array[],
  options: { broadcast: boolean; pack: number; infoFlag: number; split: BlockSplit },
): Uint8Array {
  if (!options.broadcast && blocks.length !== 1) {
    throw new FrameError('range', `a single-pack reply carries exactly one pack, not ${blocks.length}`);
  }
  if (options.broadcast && blocks.length > 0xff) throw new FrameError('range', 'too many packs for one reply');
  if (options.broadcast && options.split === 'equal') {
    const size = blocks[0]?.length ?? 0;
    if (blocks.some((b) => b.length !== size)) {
      throw new FrameError('range', 'every pack of a broadcast reply must encode to the same block length');
    }
  }
  const second = options.broadcast ? blocks.length : options.pack;
  const total = 2 + blocks.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(total);
  out[0] = options.infoFlag;
  out[1] = second;
  let pos = 2;
  for (const b of blocks) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
