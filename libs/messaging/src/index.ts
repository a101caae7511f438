export * from './broker';
export * from './errors';
export * from './logger';
export * from './topic';
export * from './memory-broker';
export * from './amqp-broker';
export * from './control-sender';
export * from './broker-transport';
