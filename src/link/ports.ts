import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LinkError } from './errors';

/** Device names of USB and on-board UARTs; the kernel's 32 legacy ttyS ports are left out. */
const SERIAL = /^tty(USB|ACM|AMA|XRUSB|CH341USB|SC)\d+$/;

/**
 * Serial ports on this machine, stable `/dev/serial/by-id` names first, from the file system only:
 * no `udevadm` needed (a GX or a container may not have it).
 */
export async function listSerialPorts(dev = '/dev'): Promise<string[]> {
  const byId = await readdir(join(dev, 'serial', 'by-id')).catch(() => [] as string[]);
  const devices = (await readdir(dev).catch(() => [] as string[])).filter((n) => SERIAL.test(n));
  return [...byId.sort().map((n) => join(dev, 'serial', 'by-id', n)), ...devices.sort().map((n) => join(dev, n))];
}

/** The port could not be (re)opened because the device does not exist (unplugged, mistyped). */
export function isMissingPort(err: unknown): boolean {
  return (
    err instanceof LinkError &&
    (err.kind === 'open-failed' || err.kind === 'disconnected') &&
    /ENOENT|No such file or directory/i.test(err.message)
  );
}
