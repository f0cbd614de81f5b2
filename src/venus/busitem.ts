import { Message, MessageType, Variant, type MessageBus } from './dbus';
import { encodeItemsChanged, encodePropertiesChanged, wireSafe, type WireItem } from './signal-wire';
import { normalize, textOf, toVariant, type ItemSpec, type ItemValue } from './values';

export const BUSITEM = 'com.victronenergy.BusItem';
const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';

/** 0 accepted, 1 not writable / wrong type, 2 refused by the owner (velib's SetValue results). */
export type SetResult = 0 | 1 | 2;

/**
 * Every path of a service with its current value. Intermediate nodes (`/Dc`, `/Dc/0`) come from
 * the leaves, so the tree is whole from the start: consumers read it the moment the name appears.
 */
export class BusItemTree {
  private readonly values = new Map<string, ItemValue>();
  private readonly nodes = new Map<string, Set<string>>();

  constructor(readonly specs: ReadonlyMap<string, ItemSpec>) {
    this.nodes.set('/', new Set());
    for (const path of specs.keys()) {
      this.values.set(path, null);
      const parts = path.split('/').slice(1);
      let parent = '/';
      parts.forEach((part, i) => {
        this.nodes.get(parent)?.add(part);
        const here = `/${parts.slice(0, i + 1).join('/')}`;
        if (i < parts.length - 1 && !this.nodes.has(here)) this.nodes.set(here, new Set());
        parent = here;
      });
    }
  }

  get paths(): IterableIterator<string> {
    return this.specs.keys();
  }

  has(path: string): boolean {
    return this.specs.has(path);
  }

  get(path: string): ItemValue {
    return this.values.get(path) ?? null;
  }

  /** Stores a value at display precision; true when what consumers see changed. */
  set(path: string, value: unknown): boolean {
    const spec = this.specs.get(path);
    if (!spec) return false;
    const next = normalize(spec, value);
    if (this.values.get(path) === next) return false;
    this.values.set(path, next);
    return true;
  }

  isNode(path: string): boolean {
    return this.nodes.has(path);
  }

  children(path: string): string[] {
    return [...(this.nodes.get(path) ?? [])].sort();
  }

  /** Leaves under a node, keyed relative to it (no leading slash), as GetValue on a node answers. */
  leavesUnder(node: string): [key: string, path: string][] {
    const prefix = node === '/' ? '/' : `${node}/`;
    return [...this.specs.keys()].filter((p) => p.startsWith(prefix)).map((p) => [p.slice(prefix.length), p]);
  }

  variant(path: string): Variant {
    return toVariant(this.spec(path), this.get(path));
  }

  text(path: string): string {
    return textOf(this.spec(path), this.get(path));
  }

  item(path: string): { Value: Variant; Text: Variant } {
    return { Value: this.variant(path), Text: new Variant('s', this.text(path)) };
  }

  wireItem(path: string): WireItem {
    const spec = this.spec(path);
    const value = this.get(path);
    return { type: spec.type, value, text: textOf(spec, value) };
  }

  spec(path: string): ItemSpec {
    const spec = this.specs.get(path);
    if (!spec) throw new Error(`no item ${path}`);
    return spec;
  }
}

export type WriteHandler = (path: string, value: number | string | null) => SetResult;

/** The D-Bus library's connection (not in its typings): where its own messages are written as bytes. */
interface BusConnection {
  readonly _connection?: {
    readonly state?: string;
    readonly stream?: {
      readonly writable?: boolean;
      readonly supportsUnixFd?: boolean;
      write(data: unknown): unknown;
    };
  };
}

/**
 * Writes a marshalled message where the library writes its own (`_write`: the stream, as
 * `{ data, fds }` where it passes file descriptors). Undefined while not connected — the library
 * queues messages then — or if a version of it keeps its connection elsewhere: the signals then go
 * through it as messages.
 */
function rawWriter(bus: MessageBus): ((bytes: Buffer) => void) | undefined {
  const connection = (bus as unknown as BusConnection)._connection;
  const stream = connection?.stream;
  if (connection?.state !== 'connected' || !stream?.writable) return undefined;
  return stream.supportsUnixFd
    ? (data) => {
        stream.write({ data, fds: [] });
      }
    : (data) => {
        stream.write(data);
      };
}

/**
 * Serves a tree as `com.victronenergy.BusItem` objects on one bus connection: GetItems, GetValue,
 * GetText, SetValue and Introspect on every object, ItemsChanged / PropertiesChanged signals.
 */
export class BusItemExporter {
  constructor(
    private readonly bus: MessageBus,
    private readonly tree: BusItemTree,
    private readonly onWrite: WriteHandler,
    private readonly propertiesChanged = true,
  ) {}

  attach(): void {
    this.bus.addMethodHandler(this.handle);
  }

  detach(): void {
    this.bus.removeMethodHandler(this.handle);
  }

  /** One ItemsChanged on `/` for the batch (and a PropertiesChanged per path, for older consumers). */
  emitChanges(paths: readonly string[]): { signals: number } {
    if (!paths.length) return { signals: 0 };
    const write = rawWriter(this.bus);
    if (write) {
      const items = paths.map((path) => [path, this.tree.wireItem(path)] as const);
      if (wireSafe(items)) {
        const signals = [encodeItemsChanged(this.bus.newSerial(), BUSITEM, items)];
        if (this.propertiesChanged)
          for (const [path, item] of items)
            signals.push(encodePropertiesChanged(this.bus.newSerial(), BUSITEM, path, item));
        // One write for the batch: one system call, one wake-up of the daemon.
        write(signals.length === 1 ? (signals[0] as Buffer) : Buffer.concat(signals));
        return { signals: signals.length };
      }
    }
    const items: Record<string, { Value: Variant; Text: Variant }> = {};
    for (const path of paths) items[path] = this.tree.item(path);
    this.bus.send(Message.newSignal('/', BUSITEM, 'ItemsChanged', 'a{sa{sv}}', [items]));
    if (!this.propertiesChanged) return { signals: 1 };
    for (const path of paths)
      this.bus.send(Message.newSignal(path, BUSITEM, 'PropertiesChanged', 'a{sv}', [items[path]]));
    return { signals: 1 + paths.length };
  }

  private readonly handle = (msg: Message): boolean => {
    if (msg.type !== MessageType.METHOD_CALL || !msg.path) return false;
    const path = msg.path;
    const leaf = this.tree.has(path);
    if (!leaf && !this.tree.isNode(path)) return false;
    if (msg.interface === INTROSPECTABLE && msg.member === 'Introspect') {
      this.reply(msg, 's', [this.introspect(path, leaf)]);
      return true;
    }
    // A call without an interface is allowed by D-Bus (dbus-send omits it with --type=method_call).
    if (msg.interface && msg.interface !== BUSITEM) return false;
    switch (msg.member) {
      case 'GetItems':
        if (path !== '/') return false;
        this.reply(msg, 'a{sa{sv}}', [Object.fromEntries([...this.tree.paths].map((p) => [p, this.tree.item(p)]))]);
        return true;
      case 'GetValue':
        this.reply(msg, 'v', [
          leaf
            ? this.tree.variant(path)
            : new Variant(
                'a{sv}',
                Object.fromEntries(this.tree.leavesUnder(path).map(([k, p]) => [k, this.tree.variant(p)])),
              ),
        ]);
        return true;
      case 'GetText':
        if (leaf) this.reply(msg, 's', [this.tree.text(path)]);
        else
          this.reply(msg, 'v', [
            new Variant(
              'a{ss}',
              Object.fromEntries(this.tree.leavesUnder(path).map(([k, p]) => [k, this.tree.text(p)])),
            ),
          ]);
        return true;
      case 'SetValue':
        this.reply(msg, 'i', [leaf ? this.setValue(path, msg.body[0]) : 1]);
        return true;
      default:
        return false;
    }
  };

  private setValue(path: string, variant: unknown): SetResult {
    const spec = this.tree.spec(path);
    if (!spec.writable || !(variant instanceof Variant)) return 1;
    const value: unknown = variant.value;
    const fits =
      spec.type === 's'
        ? typeof value === 'string'
        : typeof value === 'number' && Number.isFinite(value) && (spec.type === 'd' || Number.isInteger(value));
    if (!fits) return 1;
    const result = this.onWrite(path, value as number | string);
    if (result === 0 && this.tree.set(path, value)) this.emitChanges([path]);
    return result;
  }

  private reply(msg: Message, signature: string, body: unknown[]): void {
    this.bus.send(Message.newMethodReturn(msg, signature, body));
  }

  private introspect(path: string, leaf: boolean): string {
    const root = path === '/';
    const children = leaf ? [] : this.tree.children(path);
    return [
      '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
      '<node>',
      ` <interface name="${INTROSPECTABLE}"><method name="Introspect"><arg direction="out" type="s"/></method></interface>`,
      ` <interface name="${BUSITEM}">`,
      root ? '  <method name="GetItems"><arg direction="out" type="a{sa{sv}}"/></method>' : '',
      '  <method name="GetValue"><arg direction="out" type="v"/></method>',
      `  <method name="GetText"><arg direction="out" type="${leaf ? 's' : 'v'}"/></method>`,
      '  <method name="SetValue"><arg direction="in" type="v"/><arg direction="out" type="i"/></method>',
      root ? '  <signal name="ItemsChanged"><arg type="a{sa{sv}}"/></signal>' : '',
      '  <signal name="PropertiesChanged"><arg type="a{sv}"/></signal>',
      ' </interface>',
      ...children.map((c) => ` <node name="${c}"/>`),
      '</node>',
    ]
      .filter(Boolean)
      .join('\n');
  }
}
