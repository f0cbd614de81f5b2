/**
 * Home Assistant's MQTT discovery keys and device-class units this package may use, as
 * docs/home-assistant.md lists them (a test checks the two agree).
 */
export const CONFIG_KEYS: ReadonlySet<string> = new Set([
  'name',
  'unique_id',
  'state_topic',
  'value_template',
  'device_class',
  'state_class',
  'unit_of_measurement',
  'suggested_display_precision',
  'options',
  'entity_category',
  'icon',
  'json_attributes_topic',
  'availability',
  'availability_mode',
  'expire_after',
  'device',
]);

export const DEVICE_KEYS: ReadonlySet<string> = new Set([
  'identifiers',
  'name',
  'manufacturer',
  'model',
  'serial_number',
  'sw_version',
  'via_device',
]);

export const UNITS_OF_CLASS: Readonly<Record<string, readonly string[]>> = {
  voltage: ['V', 'mV'],
  current: ['A', 'mA'],
  power: ['W', 'kW'],
  battery: ['%'],
  temperature: ['°C', '°F', 'K'],
  energy: ['Wh', 'kWh'],
};
