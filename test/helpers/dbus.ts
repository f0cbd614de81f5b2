export { startPrivateBus as startBus, type PrivateBus as RunningBus } from '../../src/venus/private-bus';
