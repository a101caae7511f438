export { SwarmflowClient, ApiError, ApiConnectionError, type RunFilter, type TriggerRequest, type SwarmflowClientOptions } from './api-client';
export { runCli, buildProgram, packageVersion } from './program';
export { CommandContext, defaultDeps, type CliDeps } from './cli-context';
export { resolveApiUrl, swarmflowHome, standaloneFile, DEFAULT_API_URL } from './config';
export { CliError, EXIT_OK, EXIT_FAILURE, EXIT_USAGE } from './errors';
