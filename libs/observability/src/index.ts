export * from './cells';
export * from './metrics';
export * from './metrics-access';
export * from './metrics-server';
