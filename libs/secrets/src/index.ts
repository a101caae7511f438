export * from './cluster-key';
export * from './mask';
export * from './task-signing';
export * from './control-signing';
