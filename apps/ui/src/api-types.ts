// The REST API's shapes, shared with the server (the UI and the API cannot drift apart).
export type * from '../../webserver/src/http/api.types';
export type { MeDto } from '../../webserver/src/http/auth.types';
export type { ParamSpec, TiState, DagRunState, Role } from '@swarmflow/core';
