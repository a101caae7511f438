import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { confMessageForCli, ParamValidationError, TemplateRenderError } from '@swarmflow/core';
import { ApiConnectionError, ApiError } from './api-client';
import { CommandContext, defaultDeps, type CliDeps } from './cli-context';
import { registerDagCommands } from './commands/dags.commands';
import { registerRunCommands } from './commands/runs.commands';
import { registerBackfillCommands } from './commands/backfill.commands';
import { registerTaskCommands } from './commands/tasks.commands';
import { registerVariableCommands } from './commands/variables.commands';
import { registerPoolCommands } from './commands/pools.commands';
import { registerCacheCommands } from './commands/cache.commands';
import { registerWorkerCommands } from './commands/workers.commands';
import { registerDeployCommands } from './commands/deploy.commands';
import { registerAuditCommands } from './commands/audit.commands';
import { registerAutoscalerCommands } from './commands/autoscaler.commands';
import { registerLoginCommands } from './commands/login.commands';
import { registerTokenCommands } from './commands/tokens.commands';
import { registerUserCommands } from './commands/users.commands';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors';
import { registerServerCommands } from './server-commands';

/**
 * The `swarmflow` program: the server commands (standalone, scheduler, worker, webserver,
 * autoscaler, db migrate), `deploy groups` (stack files) and the client commands, which talk to the REST API. Errors never exit
 * the process: commander's are thrown (exitOverride) and handled by {@link runCli}.
 */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('swarmflow')
    .description('Swarmflow: DAG workflows as code, run by workers on RabbitMQ queues.\n' +
      'Client commands talk to the REST API at SWARMFLOW_URL (default: the standalone server, else http://127.0.0.1:8080), ' +
      'sending the API token in SWARMFLOW_TOKEN, else the one `swarmflow login` saved, else the standalone server\'s own.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)');
  registerServerCommands(program, ctx.deps.env);
  registerDagCommands(program, ctx);
  registerRunCommands(program, ctx);
  registerTaskCommands(program, ctx);
  registerBackfillCommands(program, ctx);
  registerWorkerCommands(program, ctx);
  registerPoolCommands(program, ctx);
  registerCacheCommands(program, ctx);
  registerVariableCommands(program, ctx);
  registerLoginCommands(program, ctx);
  registerUserCommands(program, ctx);
  registerTokenCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerAutoscalerCommands(program, ctx);
  registerDeployCommands(program, ctx);
  // After every command exists: addCommand() does not copy these settings to the commands it adds.
  const output = { writeOut: (s: string) => ctx.deps.stdout(s), writeErr: (s: string) => ctx.deps.stderr(s) };
  forEachCommand(program, (cmd) => cmd.exitOverride().configureOutput(output));
  return program;
}

/**
 * Runs the program on `argv` (the user's arguments, without node and the script) and
 * returns the exit code: 0 ok, 1 failure (a run or task failed, a server error), 2 usage
 * or connection error. Errors are printed as one line on stderr, never with a stack.
 */
export async function runCli(argv: string[], deps: CliDeps = defaultDeps()): Promise<number> {
  const ctx = new CommandContext(deps);
  try {
    await buildProgram(ctx).parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return reportError(err, deps);
  }
}

function reportError(err: unknown, deps: CliDeps): number {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
  }
  const line = (message: string, code: number): number => {
    deps.stderr(`${message}\n`);
    return code;
  };
  if (err instanceof CliError) return line(err.message, err.exitCode);
  if (err instanceof ApiConnectionError) return line(err.message, EXIT_USAGE);
  // The API words a conf error's fix for a JSON body; a CLI user gives --conf.
  if (err instanceof ApiError) {
    const message = err.reason === 'invalid_conf' ? confMessageForCli(err.message) : err.message;
    return line(message + authFix(err, deps.env), err.status >= 500 ? EXIT_FAILURE : EXIT_USAGE);
  }
  if (err instanceof ParamValidationError || err instanceof TemplateRenderError) return line(err.message, EXIT_USAGE);
  const message = err instanceof Error ? err.message : String(err);
  if (deps.env.SWARMFLOW_DEBUG && err instanceof Error && err.stack) deps.stderr(`${err.stack}\n`);
  return line(`unexpected error: ${message} (set SWARMFLOW_DEBUG=1 for details)`, EXIT_FAILURE);
}

function forEachCommand(cmd: Command, f: (cmd: Command) => void): void {
  f(cmd);
  for (const sub of cmd.commands) forEachCommand(sub, f);
}

/** The version in the project's package.json (found upwards: the layout differs between src and dist). */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'swarmflow' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

/** What to do about a 401 or 403, appended to the API's own message. */
function authFix(err: ApiError, env: NodeJS.ProcessEnv): string {
  if (err.status === 401 && err.reason === 'unauthenticated') {
    const sent = env.SWARMFLOW_TOKEN?.trim() ? ' (the CLI sent SWARMFLOW_TOKEN)' : '';
    return `${sent}\nFix: run \`swarmflow login\`, or set SWARMFLOW_TOKEN to an API token from an admin (\`swarmflow tokens create --name <name>\`; ` +
      'inside a server container: `swarmflow tokens create --name cli --user admin --database`)';
  }
  return '';
}
