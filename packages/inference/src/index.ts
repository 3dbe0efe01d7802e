export * from './card';
export * from './session';
export * from './registry';
