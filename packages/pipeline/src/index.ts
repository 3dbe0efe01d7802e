export * from './fuse';
export * from './geometry';
