export * from './worker.service';
export * from './worker.module';
export * from './worker.config';
export * from './start-worker';
export * from './run-local';
export { taskVerdict, taskEnv, type TaskVerdict } from './task-outcome';
export { decodeTaskMessage, decodeControlMessage, InvalidMessageError } from './task-message.decoder';
