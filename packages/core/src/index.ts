export * from './errors';
export * from './version';
export * from './config';
export * from './logger';
export * from './grading';
