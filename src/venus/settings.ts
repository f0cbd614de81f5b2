import { Message, Variant, type MessageBus } from './dbus';

export const SETTINGS_SERVICE = 'com.victronenergy.settings';

export function instanceSettingPath(uniqueId: string): string {
  return `/Settings/Devices/${uniqueId}/ClassAndVrmInstance`;
}

/** `battery:3` → 3 when the class matches. */
export function parseClassInstance(value: unknown, deviceClass: string): number | null {
  if (typeof value !== 'string') return null;
  const match = /^([a-z_]+):(\d+)$/.exec(value);
  return match?.[1] === deviceClass ? Number(match[2]) : null;
}

/** Gives up on `promise` after `ms`: a half-dead bus must not hang a node. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} timed out after ${String(ms)} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function callWithTimeout(bus: MessageBus, msg: Message, timeoutMs: number): Promise<Message | null> {
  return withTimeout(bus.call(msg), timeoutMs, `D-Bus call ${msg.member}`);
}

export async function nameHasOwner(bus: MessageBus, name: string, timeoutMs: number): Promise<boolean> {
  const reply = await callWithTimeout(
    bus,
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameHasOwner',
      signature: 's',
      body: [name],
    }),
    timeoutMs,
  );
  return reply?.body[0] === true;
}

export async function addMatch(bus: MessageBus, rule: string, timeoutMs: number): Promise<void> {
  await callWithTimeout(
    bus,
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [rule],
    }),
    timeoutMs,
  );
}

/**
 * Asks localsettings for this device's instance (it keeps one per unique id and hands out the
 * next free number when the preferred one is taken). null when there is no settings service.
 */
export async function registerInstance(
  bus: MessageBus,
  uniqueId: string,
  deviceClass: string,
  preferred: number,
  timeoutMs: number,
): Promise<number | null> {
  if (!(await nameHasOwner(bus, SETTINGS_SERVICE, timeoutMs))) return null;
  const path = instanceSettingPath(uniqueId);
  const reply = await callWithTimeout(
    bus,
    new Message({
      destination: SETTINGS_SERVICE,
      path: '/',
      interface: 'com.victronenergy.Settings',
      member: 'AddSettings',
      signature: 'aa{sv}',
      body: [[{ path: new Variant('s', path), default: new Variant('s', `${deviceClass}:${String(preferred)}`) }]],
    }),
    timeoutMs,
  );
  const results = reply?.body[0] as { value?: Variant }[] | undefined;
  const value = results?.[0]?.value?.value;
  const instance = parseClassInstance(value, deviceClass);
  if (instance === null) throw new Error(`localsettings answered ${JSON.stringify(value)} for ${path}`);
  return instance;
}

/** The instance a settings signal carries for our path, if it is one. */
export function instanceFromSignal(msg: Message, uniqueId: string, deviceClass: string): number | null {
  const path = instanceSettingPath(uniqueId);
  if (msg.member === 'PropertiesChanged' && msg.path === path) {
    const change = msg.body[0] as { Value?: Variant } | undefined;
    return parseClassInstance(change?.Value?.value, deviceClass);
  }
  if (msg.member === 'ItemsChanged' && msg.path === '/') {
    const items = msg.body[0] as Record<string, { Value?: Variant } | undefined> | undefined;
    return parseClassInstance(items?.[path]?.Value?.value, deviceClass);
  }
  return null;
}
