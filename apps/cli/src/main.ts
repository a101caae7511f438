import { defaultDeps } from './cli-context';
import { runCli } from './program';

// Entry point of the `swarmflow` command (bin/swarmflow.js requires the compiled file).
// The exit code is set, not forced: a server command keeps the process alive until it stops.
runCli(process.argv.slice(2), defaultDeps()).then((code) => {
  process.exitCode = code;
});
