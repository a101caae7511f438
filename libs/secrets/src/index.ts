export * from './cluster-key';
export * from './mask';
