import { ConfigError, resolveFileSettings } from '@swarmflow/secrets';
import { defaultDeps } from './cli-context';
import { runCli } from './program';

// Entry point of the `swarmflow` command (bin/swarmflow.js requires the compiled file).
// Settings given as files (`*_FILE`, Docker secrets) are read into the environment once,
// here, before any command reads it.
// The exit code is set, not forced: a server command keeps the process alive until it stops.
try {
  const resolved = resolveFileSettings(process.env);
  for (const key of Object.keys(process.env)) if (!(key in resolved)) delete process.env[key];
  Object.assign(process.env, resolved);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`swarmflow: ${err.message}\n`);
  process.exit(2);
}
runCli(process.argv.slice(2), defaultDeps()).then((code) => {
  process.exitCode = code;
});
