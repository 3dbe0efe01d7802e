export * from './errors';
export * from './version';
