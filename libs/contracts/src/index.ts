// Wire contracts shared by the servers, the CLI and the UI (zod schemas with inferred types).
// Import from here or from a file (`@swarmflow/contracts/events`); never from apps/.
export * from './events';
export * from './dashboard';
export * from './task-actions';
// The REST API's request/response shapes (types only): the webserver, the CLI's client and the UI.
export type * from './api.types';
