export * from './protocol';
export * from './link';
export * from './sim';
export * from './bank';
