export {
  BANK_ENTITIES,
  CONTROL_ENTITIES,
  PACK_ENTITIES,
  cellEntities,
  type ControlSource,
  type EntityDef,
} from './entities';
export { EnergyCounter, type EnergyTotals } from './energy';
export {
  HaPublisher,
  idPart,
  memoryFrom,
  topicRootError,
  type MqttMessage,
  type PublisherMemory,
  type PublisherOptions,
} from './publisher';
