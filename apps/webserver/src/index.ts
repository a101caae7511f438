export { createWebserver, API_PREFIX, type WebserverOptions } from './webserver';
export { startWebserver, type RunningWebserver } from './main';
export { loadWebserverConfig, readAuditRetention, WebserverConfigError, DEFAULT_WEB_HOST, DEFAULT_WEB_PORT, type WebserverConfig } from './webserver.config';
export type * from '@swarmflow/contracts/api.types';
export { VariablesService, type VariableView, type VariablesImportResult, type VariablesExport } from './services/variables.service';
