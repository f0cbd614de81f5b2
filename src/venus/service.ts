import { EventEmitter } from 'node:events';
import { BusItemExporter, BusItemTree, type SetResult } from './busitem';
import { MessageType, sessionBus, systemBus, type Message, type MessageBus } from './dbus';
import {
  SETTINGS_SERVICE,
  addMatch,
  instanceFromSignal,
  instanceSettingPath,
  registerInstance,
  withTimeout,
} from './settings';
import type { ItemSpec, ItemValue } from './values';
import { errorMessage } from '../errors';

export interface VenusServiceOptions {
  /** `unix:path=…` or `tcp:host=…,port=…`; empty: the system bus. */
  readonly busAddress?: string;
  /** `com.victronenergy.battery.<suffix>`. */
  readonly serviceName: string;
  /** Key under /Settings/Devices; stable per physical bank (never the port name). */
  readonly uniqueId: string;
  readonly deviceClass?: string;
  readonly preferredInstance: number;
  readonly specs: ReadonlyMap<string, ItemSpec>;
  readonly propertiesChanged?: boolean;
  readonly onWrite?: (path: string, value: number | string | null) => SetResult;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly callTimeoutMs?: number;
}

export type ServicePhase = 'connecting' | 'registered' | 'released' | 'retrying' | 'stopped';

export interface ServiceState {
  readonly phase: ServicePhase;
  readonly text: string;
  readonly error?: string;
}

// DBus name request flags / replies (D-Bus specification).
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
const ALREADY_OWNER = 4;

/**
 * One Victron service on one bus connection, for as long as it runs: instance from localsettings,
 * the whole tree exported before the name is claimed, changes as signals, and a new connection
 * with backoff whenever the bus goes away. Errors become `state` events, never exceptions.
 */
export class VenusService extends EventEmitter {
  readonly tree: BusItemTree;
  private bus: MessageBus | undefined;
  private exporter: BusItemExporter | undefined;
  private current: ServiceState = { phase: 'connecting', text: 'connecting' };
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private stopped = false;
  private wantName = true;
  private owned = false;
  private instanceValue: number | null = null;
  private usingSettings = false;
  private session = 0;

  constructor(readonly options: VenusServiceOptions) {
    super();
    this.on('error', () => undefined);
    this.tree = new BusItemTree(options.specs);
    this.retryMs = options.retryMinMs ?? 1000;
  }

  get state(): ServiceState {
    return this.current;
  }

  get instance(): number | null {
    return this.instanceValue;
  }

  get registered(): boolean {
    return this.owned;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Apply values; the changed ones go out as one batch. Returns the changed paths. */
  update(values: Readonly<Record<string, ItemValue>>): string[] {
    const changed: string[] = [];
    for (const path of Object.keys(values))
      if (path !== '/DeviceInstance' && this.tree.set(path, values[path])) changed.push(path);
    this.emitChanges(changed);
    return changed;
  }

  /** Leave the bus name (consumers see the service vanish) but keep the connection. */
  async release(): Promise<void> {
    this.wantName = false;
    const bus = this.bus;
    if (!bus || !this.owned) return;
    this.owned = false;
    try {
      await bus.releaseName(this.options.serviceName);
    } catch (err) {
      this.lost(err);
      return;
    }
    if (this.bus !== bus) return;
    this.setState({ phase: 'released', text: 'name released' });
    // Fresh data came while the name was being left: take it again.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- claim() sets it while the daemon answers
    if (this.wantName) await this.claim();
  }

  /**
   * Take the bus name again. Whenever it is asked for: while connecting, the connection takes it
   * once the instance is known; while the name is being left, `release` takes it again when done.
   */
  async claim(): Promise<void> {
    this.wantName = true;
    const bus = this.bus;
    if (!bus || this.owned || this.state.phase !== 'released') return;
    try {
      await this.requestName(bus);
    } catch (err) {
      this.lost(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const bus = this.bus;
    const exporter = this.exporter;
    this.bus = undefined;
    this.exporter = undefined;
    if (bus) {
      // Values invalid first, so a consumer that reads before the name goes sees no stale numbers.
      const paths = [...this.tree.paths].filter((p) => !MANDATORY_KEEP.has(p));
      const changed = paths.filter((p) => this.tree.set(p, null));
      try {
        if (changed.length && this.owned) exporter?.emitChanges(changed);
        if (this.owned)
          await withTimeout(
            bus.releaseName(this.options.serviceName),
            this.options.callTimeoutMs ?? 2000,
            'D-Bus ReleaseName',
          );
      } catch {
        // The bus may already be gone; leaving is all that is left to do.
      }
      this.owned = false;
      exporter?.detach();
      bus.disconnect();
    }
    this.setState({ phase: 'stopped', text: 'stopped' });
  }

  private emitChanges(paths: readonly string[]): void {
    if (!paths.length || !this.exporter || !this.owned) return;
    try {
      const { signals } = this.exporter.emitChanges(paths);
      this.emit('signals', signals, paths.length);
    } catch (err) {
      this.lost(err);
    }
  }

  private async connect(): Promise<void> {
    const session = ++this.session;
    const timeoutMs = this.options.callTimeoutMs ?? 2000;
    this.setState({ phase: 'connecting', text: 'connecting to D-Bus' });
    let bus: MessageBus;
    try {
      bus = this.options.busAddress ? sessionBus({ busAddress: this.options.busAddress }) : systemBus();
    } catch (err) {
      this.lost(err);
      return;
    }
    this.bus = bus;
    // Without an `error` listener a daemon restart would take the whole Node-RED process down.
    (bus as EventEmitter).on('error', (err: unknown) => {
      if (this.session === session) this.lost(err);
    });
    // dbus-next reports a closed socket only on the next write; the connection's own `end` says it at once.
    (bus as unknown as { _connection?: EventEmitter })._connection?.on('end', () => {
      if (this.session === session) this.lost(new Error('D-Bus connection closed'));
    });
    try {
      await withTimeout(
        new Promise<void>((resolve) => {
          if (bus.name) resolve();
          else
            bus.once('connect', () => {
              resolve();
            });
        }),
        timeoutMs,
        'D-Bus connection',
      );
      if (this.session !== session) return;
      this.exporter = new BusItemExporter(
        bus,
        this.tree,
        (path, value) => this.options.onWrite?.(path, value) ?? 1,
        this.options.propertiesChanged,
      );
      this.exporter.attach();
      bus.on('message', (msg: Message) => {
        if (this.session === session) this.onSignal(msg);
      });
      await this.resolveInstance(bus, timeoutMs);
      if (this.session !== session) return;
      await addMatch(
        bus,
        `type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${SETTINGS_SERVICE}'`,
        timeoutMs,
      );
      const path = instanceSettingPath(this.options.uniqueId);
      await addMatch(
        bus,
        `type='signal',sender='${SETTINGS_SERVICE}',path='${path}',member='PropertiesChanged'`,
        timeoutMs,
      );
      await addMatch(bus, `type='signal',sender='${SETTINGS_SERVICE}',path='/',member='ItemsChanged'`, timeoutMs);
      if (this.wantName) await this.requestName(bus);
      else this.setState({ phase: 'released', text: 'connected, name released' });
      this.retryMs = this.options.retryMinMs ?? 1000;
    } catch (err) {
      if (this.session === session) this.lost(err);
    }
  }

  private async resolveInstance(bus: MessageBus, timeoutMs: number): Promise<void> {
    const deviceClass = this.options.deviceClass ?? 'battery';
    const fromSettings = await registerInstance(
      bus,
      this.options.uniqueId,
      deviceClass,
      this.options.preferredInstance,
      timeoutMs,
    );
    this.usingSettings = fromSettings !== null;
    if (fromSettings === null) {
      this.emit(
        'warning',
        `no ${SETTINGS_SERVICE} on the bus: using DeviceInstance ${String(this.options.preferredInstance)} without coordinating with other devices`,
      );
    }
    this.setInstance(fromSettings ?? this.options.preferredInstance);
  }

  private setInstance(instance: number): void {
    this.tree.set('/DeviceInstance', instance);
    if (instance !== this.instanceValue) {
      this.instanceValue = instance;
      this.emit('instance', instance);
    }
  }

  private async requestName(bus: MessageBus): Promise<void> {
    const reply = await bus.requestName(this.options.serviceName, DO_NOT_QUEUE);
    if (reply !== PRIMARY_OWNER && reply !== ALREADY_OWNER) {
      throw new Error(`${this.options.serviceName} is already owned by another process`);
    }
    this.owned = true;
    this.setState({
      phase: 'registered',
      text: `${this.options.serviceName} (instance ${String(this.instanceValue)})`,
    });
  }

  private onSignal(msg: Message): void {
    const bus = this.bus;
    if (!bus || msg.type !== MessageType.SIGNAL) return;
    if (msg.member === 'NameOwnerChanged' && msg.body[0] === SETTINGS_SERVICE) {
      // Settings appeared after us (or restarted): the instance must come from it.
      if (msg.body[2] && !this.usingSettings) void this.reregister(bus);
      return;
    }
    const instance = instanceFromSignal(msg, this.options.uniqueId, this.options.deviceClass ?? 'battery');
    // Consumers read /DeviceInstance only when the name appears: change it by leaving and coming back.
    if (instance !== null && instance !== this.instanceValue) void this.reregister(bus, instance);
  }

  private async reregister(bus: MessageBus, instance?: number): Promise<void> {
    try {
      if (this.owned) {
        this.owned = false;
        await bus.releaseName(this.options.serviceName);
      }
      if (instance === undefined) await this.resolveInstance(bus, this.options.callTimeoutMs ?? 2000);
      else this.setInstance(instance);
      if (this.wantName && this.bus === bus) await this.requestName(bus);
    } catch (err) {
      this.lost(err);
    }
  }

  private lost(err: unknown): void {
    if (this.stopped) return;
    const message = errorMessage(err);
    this.session++;
    this.owned = false;
    this.exporter = undefined;
    const bus = this.bus;
    this.bus = undefined;
    try {
      bus?.disconnect();
    } catch {
      // Already closed.
    }
    clearTimeout(this.retryTimer);
    const wait = this.retryMs;
    this.retryMs = Math.min(this.options.retryMaxMs ?? 30_000, this.retryMs * 2);
    this.setState({
      phase: 'retrying',
      text: `D-Bus: ${message}; retry in ${String(Math.round(wait / 1000))} s`,
      error: message,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.connect();
    }, wait);
  }

  private setState(state: ServiceState): void {
    this.current = state;
    this.emit('state', state);
  }
}

/** Paths that stay valid when the service leaves: consumers identify the service by them. */
const MANDATORY_KEEP = new Set([
  '/DeviceInstance',
  '/ProductId',
  '/ProductName',
  '/Mgmt/ProcessName',
  '/Mgmt/ProcessVersion',
  '/Mgmt/Connection',
  '/CustomName',
  '/FirmwareVersion',
  '/Serial',
]);
