export * from './uid';
export * from './geometry';
export * from './write';
export * from './mr-image';
export * from './read';
