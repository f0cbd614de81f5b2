export * from './protocol';
export * from './link';
export * from './sim';
