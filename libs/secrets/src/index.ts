export * from './cluster-key';
export * from './mask';
export * from './task-signing';
export * from './file-settings';
export * from './control-signing';
