import createDebug from 'debug';

/**
 * The package's log namespaces (the `debug` package): off unless `DEBUG=lfp-bms:*` (or some of
 * them, e.g. `DEBUG=lfp-bms:frames,lfp-bms:poller`) is in the environment of Node-RED or `lfp-bms`.
 * Output goes to stderr. Each call is one check while a namespace is off.
 */
export const log = {
  /** Port open, lost, reconnecting. */
  link: createDebug('lfp-bms:link'),
  /** Every frame both ways and what the link made of it. */
  frames: createDebug('lfp-bms:frames'),
  /** Poll cycles: packs answering, time taken. */
  poller: createDebug('lfp-bms:poller'),
  /** The Victron bridge: service registration, stages, limits. */
  venus: createDebug('lfp-bms:venus'),
  /** bms-mqtt: what goes to the broker. */
  mqtt: createDebug('lfp-bms:mqtt'),
};
