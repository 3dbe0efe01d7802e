export * from './fuse';
export * from './geometry';
export * from './types';
export * from './canonical';
export * from './segment';
export * from './sagittal';
export * from './axial';
export * from './analyze';
