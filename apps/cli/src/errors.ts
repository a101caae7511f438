/** Exit codes of the `swarmflow` command. */
export const EXIT_OK = 0;
/** The thing asked for failed: a run or task failed, a wait timed out, the server erred. */
export const EXIT_FAILURE = 1;
/** The request was wrong (usage, bad conf, unknown DAG) or the API could not be reached. */
export const EXIT_USAGE = 2;
/**
 * `variables get` of a key that does not exist: 1, as `git config --get` and `printenv`
 * answer a missing key, so `$(swarmflow variables get k) || …` can tell it from a secret (2).
 */
export const EXIT_NO_SUCH_VARIABLE = 1;

/** An error to print as one line (no stack) before exiting with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';

  constructor(message: string, readonly exitCode: number = EXIT_USAGE) {
    super(message);
  }
}
