// The REST API's shapes, shared with the server through libs/contracts (the UI and the API
// cannot drift apart). The UI imports nothing from apps/ (ui-imports.spec.ts checks).
export type * from '@swarmflow/contracts/api.types';
export type { ParamSpec, TiState, DagRunState, Role } from '@swarmflow/core';
