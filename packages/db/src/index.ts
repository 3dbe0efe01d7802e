export * from './client';
export * from './migrate';
export * from './repos/instances';
export * from './repos/analyses';
export * from './repos/exports';
export * from './repos/audit';
export * from './repos/api-keys';
