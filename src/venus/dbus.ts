/**
 * The D-Bus library, in one place. `@jellybrick/dbus-next` is the maintained fork of dbus-next
 * (same API): pure JavaScript, typed, and without dbus-next's optional native socket addon,
 * which a GX could not build.
 */
export { Message, MessageBus, MessageType, Variant, sessionBus, systemBus } from '@jellybrick/dbus-next';
