export type Dialect = 'pace' | 'pylontech' | 'seplos' | 'eg4';

export const DIALECTS: readonly Dialect[] = ['pace', 'pylontech', 'seplos', 'eg4'];

export interface DialectProfile {
  readonly dialect: Dialect;
  /** VER byte we send; a BMS may claim another in its reply (docs/pitfalls.md#p-29). */
  readonly version: number;
  readonly cid1: number;
  /** Header ADR for commands that do not name a pack. */
  readonly defaultAddress: number;
  /** Header ADR of the master, used for "all packs" requests. */
  readonly masterAddress: number;
  /** Whether 0x42/0x44 requests carry the pack in INFO (EG4 selects by ADR only). */
  readonly packInRequest: boolean;
  /** Whether a one-pack 0x42/0x44 reply echoes the pack asked for in its second byte (Seplos does not). */
  readonly echoesPack: boolean;
}

export const DIALECT_PROFILES: Readonly<Record<Dialect, DialectProfile>> = {
  pace: {
    dialect: 'pace',
    version: 0x25,
    cid1: 0x46,
    defaultAddress: 0x00,
    masterAddress: 0x01,
    packInRequest: true,
    echoesPack: true,
  },
  pylontech: {
    dialect: 'pylontech',
    version: 0x20,
    cid1: 0x46,
    defaultAddress: 0x02,
    masterAddress: 0x02,
    packInRequest: true,
    echoesPack: true,
  },
  seplos: {
    dialect: 'seplos',
    version: 0x20,
    cid1: 0x46,
    defaultAddress: 0x00,
    masterAddress: 0x00,
    packInRequest: true,
    echoesPack: false,
  },
  eg4: {
    dialect: 'eg4',
    version: 0x20,
    cid1: 0x4a,
    defaultAddress: 0x01,
    masterAddress: 0x01,
    packInRequest: false,
    echoesPack: false,
  },
};

export function isDialect(value: unknown): value is Dialect {
  return typeof value === 'string' && (DIALECTS as readonly string[]).includes(value);
}

/** COMMAND byte that asks the master for the whole bank. */
export const ALL_PACKS = 0xff;

/** What the decoded `command` is called, by the CID2 of the request (docs/payloads.md). */
export type CommandKind =
  | 'analog'
  | 'alarms'
  | 'packCount'
  | 'clock'
  | 'history'
  | 'version'
  | 'serial'
  | 'manufacturer'
  | 'chargeLimits'
  | 'systemParameters'
  | 'protocolVersion'
  | 'parameter'
  | 'switch'
  | 'capacity'
  | 'inverterProtocol'
  | 'other';

export function commandKind(cid2: number): CommandKind {
  switch (cid2) {
    case 0x42:
      return 'analog';
    case 0x44:
      return 'alarms';
    case 0x90:
      return 'packCount';
    case 0xb1:
    case 0xb2:
    case 0x4d:
    case 0x4e:
      return 'clock';
    case 0xa1:
      return 'history';
    case 0xc1:
    case 0x96:
      return 'version';
    case 0xc2:
    case 0x93:
      return 'serial';
    case 0x51:
      return 'manufacturer';
    case 0x92:
      return 'chargeLimits';
    case 0x47:
      return 'systemParameters';
    case 0x4f:
      return 'protocolVersion';
    case 0xa0:
    case 0xa5:
    case 0xa8:
    case 0xae:
    case 0xaf:
    case 0xb5:
    case 0xb6:
    case 0xed:
    case 0xee:
      return 'parameter';
    case 0x99:
    case 0x9a:
    case 0x9b:
    case 0x9c:
      return 'switch';
    case 0xa6:
    case 0xa7:
      return 'capacity';
    case 0xeb:
    case 0xec:
    case 0x60:
    case 0x61:
    case 0x62:
    case 0x63:
      return 'inverterProtocol';
    default:
      return cid2 >= 0xd0 && cid2 <= 0xe7 ? 'parameter' : 'other';
  }
}
