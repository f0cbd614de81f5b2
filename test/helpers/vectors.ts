import vectors from '../fixtures/vectors.json';

export interface Vector {
  readonly id: string;
  readonly dialect: string;
  readonly command: string;
  readonly request: string | string[];
  readonly responses: readonly string[];
  readonly decodeRequests: readonly string[];
  readonly checksum_ok: Readonly<Record<string, boolean>>;
  readonly usable_as_checksum_test: boolean;
  readonly expected: readonly Record<string, unknown>[];
}

export const VECTORS = vectors as unknown as readonly Vector[];
