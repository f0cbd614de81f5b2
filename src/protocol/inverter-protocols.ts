/** PACE 0xEB / 0xEC protocol codes and their names (docs/protocol.md#inverter-protocol). 0xFF disables the port. */
const TABLE: readonly (readonly [code: number, can: string, rs485: string])[] = [
  [0x00, 'PACE', 'PACE Modbus'],
  [0x01, 'Pylon', 'Pylon 485'],
  [0x02, 'Growatt', 'Growatt 485'],
  [0x03, 'Victron', 'Voltronic / EA Sun / MPP'],
  [0x04, 'Schneider/SE', 'Schneider/SE'],
  [0x05, 'LuxPower', 'Phocos'],
  [0x06, 'SRD/SoroTec', 'LuxPower'],
  [0x07, 'SMA', 'Solar'],
  [0x08, 'GoodWe', 'Lithium'],
  [0x09, 'Studer', 'EP'],
  [0x0a, 'Sofar', 'RTU04'],
  [0x0b, 'PV/Must', 'LuxPower V01'],
  [0x0c, 'Jinlang/Solis', 'LuxPower V03'],
  [0x0d, 'DIDU', 'WOW / SRNE'],
  [0x0e, 'Senergy', 'LEOCH'],
  [0x0f, 'TBB', 'Pylon 485 F'],
  [0x10, 'Pylon V202', 'Afore'],
  [0x11, 'Growatt V109', 'UPS AGXN'],
  [0x12, 'Must V202', 'Sunpolo / Orex'],
  [0x13, 'Afore', 'Xiongtao'],
  [0x14, 'INVT / YWT', 'Rongke'],
  [0x15, 'FUJI', 'Xinrui'],
  [0x16, 'Sofar V21003', 'Eltek'],
  [0x17, 'GT', 'GT'],
  [0x18, 'Leoch V106', 'Leoch V106'],
  [0xff, 'disabled', 'disabled'],
];

export type InverterPort = 'can' | 'rs485';

export function inverterProtocolName(port: InverterPort, code: number): string {
  const row = TABLE.find(([c]) => c === code);
  return row ? (port === 'can' ? row[1] : row[2]) : `unknown (0x${code.toString(16).padStart(2, '0')})`;
}

/** A protocol code from a code or a name (case-insensitive); null when the table has neither. */
export function inverterProtocolCode(port: InverterPort, value: unknown): number | null {
  if (typeof value === 'number') return TABLE.some(([c]) => c === value) ? value : null;
  if (typeof value !== 'string') return null;
  const row = TABLE.find((r) => (port === 'can' ? r[1] : r[2]).toLowerCase() === value.trim().toLowerCase());
  return row ? row[0] : null;
}

export function inverterProtocols(port: InverterPort): { code: number; name: string }[] {
  return TABLE.map(([code, can, rs485]) => ({ code, name: port === 'can' ? can : rs485 }));
}
