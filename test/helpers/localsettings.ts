import { Message, MessageType, Variant, sessionBus, type MessageBus } from '../../src/venus/dbus';

/**
 * A stand-in for Victron's localsettings, as far as devices use it: AddSettings on `/`, GetValue /
 * SetValue on each setting, change signals. Instance allocation follows the observed rules: an id
 * keeps its value; a taken preference gets the next free number of the class.
 */
export class FakeLocalSettings {
  readonly values = new Map<string, string>();
  private bus: MessageBus | undefined;

  async start(address: string): Promise<void> {
    const bus = sessionBus({ busAddress: address });
    (bus as NodeJS.EventEmitter).on('error', () => undefined);
    bus.addMethodHandler((msg) => this.handle(bus, msg));
    await bus.requestName('com.victronenergy.settings', 4);
    this.bus = bus;
  }

  stop(): void {
    this.bus?.disconnect();
    this.bus = undefined;
  }

  /** As the GUI's VRM-instance dialog does it. */
  set(path: string, value: string): void {
    this.values.set(path, value);
    const bus = this.bus;
    if (!bus) return;
    const item = { Value: new Variant('s', value), Text: new Variant('s', value) };
    bus.send(Message.newSignal(path, 'com.victronenergy.BusItem', 'PropertiesChanged', 'a{sv}', [item]));
    bus.send(Message.newSignal('/', 'com.victronenergy.BusItem', 'ItemsChanged', 'a{sa{sv}}', [{ [path]: item }]));
  }

  private allocate(path: string, preferred: string): string {
    const existing = this.values.get(path);
    if (existing !== undefined) return existing;
    const match = /^([a-z_]+):(\d+)$/.exec(preferred);
    if (!path.endsWith('/ClassAndVrmInstance') || !match) return preferred;
    const [, cls = '', n = '0'] = match;
    const taken = new Set(
      [...this.values.entries()].filter(([p]) => p.endsWith('/ClassAndVrmInstance')).map(([, v]) => v),
    );
    let instance = Number(n);
    while (taken.has(`${cls}:${String(instance)}`)) instance++;
    return `${cls}:${String(instance)}`;
  }

  private handle(bus: MessageBus, msg: Message): boolean {
    if (msg.type !== MessageType.METHOD_CALL) return false;
    if (msg.path === '/' && msg.member === 'AddSettings') {
      const entries = msg.body[0] as { path: Variant<string>; default: Variant<string> }[];
      const results = entries.map((e) => {
        const value = this.allocate(e.path.value, e.default.value);
        this.values.set(e.path.value, value);
        return { path: new Variant('s', e.path.value), error: new Variant('i', 0), value: new Variant('s', value) };
      });
      bus.send(Message.newMethodReturn(msg, 'aa{sv}', [results]));
      return true;
    }
    const value = msg.path ? this.values.get(msg.path) : undefined;
    if (value === undefined || !msg.path) return false;
    if (msg.member === 'GetValue') {
      bus.send(Message.newMethodReturn(msg, 'v', [new Variant('s', value)]));
      return true;
    }
    if (msg.member === 'SetValue') {
      const next = msg.body[0] as Variant;
      this.set(msg.path, String(next.value));
      bus.send(Message.newMethodReturn(msg, 'i', [0]));
      return true;
    }
    return false;
  }
}
