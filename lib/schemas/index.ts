export * from './common';
export * from './vm';
export * from './host';
export * from './pool';
export * from './auth';
export * from './events';
export * from './console';
