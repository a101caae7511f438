import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { ApiError, SwarmflowClient } from '../api-client';
import type { CommandContext } from '../cli-context';
import { credentialsFile, readCredentials, readIfExists, resolveApiUrl } from '../config';
import { CliError } from '../errors';
import { formatDate } from '../format';
import { readPasswordFromStdin } from './users.commands';

/** Saves (or with null, forgets) the login token for `url`, in a file only its owner can read. */
export function saveCredential(env: NodeJS.ProcessEnv, url: string, token: string | null): string {
  const file = credentialsFile(env);
  const tokens = readCredentials(env, readIfExists);
  if (token === null) delete tokens[url];
  else tokens[url] = token;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return file;
}

/** Asks on the terminal; `hidden` does not echo what is typed. */
function ask(question: string, hidden: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(new CliError('no terminal to ask on: pass --user <name> and pipe the password with --password-stdin'));
  }
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export function registerLoginCommands(program: Command, ctx: CommandContext): void {
  program.command('login')
    .description('log in to the API with a user name and password; saves an API token for the CLI (mode 0600, under $SWARMFLOW_HOME)')
    .option('--user <name>', 'user name (default: asked)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .option('--expires <duration>', 'how long the saved token lasts', '30d')
    .action(async (opts: { user?: string; passwordStdin?: boolean; expires: string }) => {
      const url = resolveApiUrl(ctx.deps.env, ctx.deps.readFile);
      const name = opts.user ?? (await ask('user: ', false)).trim();
      if (!name) throw new CliError('no user name given: pass --user <name>');
      const password = opts.passwordStdin ? await readPasswordFromStdin(ctx) : await ask('password: ', true);
      const client = new SwarmflowClient(url, { fetch: ctx.deps.fetch });
      let answer;
      try {
        answer = await client.login({ name, password, as: 'token', tokenName: `cli@${hostname()}`.slice(0, 100), expiresIn: opts.expires });
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 429)) throw new CliError(`login to ${url} failed: ${err.message}`);
        throw err;
      }
      const file = saveCredential(ctx.deps.env, url, answer.token.token);
      ctx.print(`logged in to ${url} as ${answer.user.name} (${answer.user.role}); token saved in ${file}` +
        (answer.token.expiresAt ? `, valid until ${formatDate(answer.token.expiresAt)}` : ''));
      if (ctx.deps.env.SWARMFLOW_TOKEN?.trim()) ctx.printErr('note: SWARMFLOW_TOKEN is set and wins over the saved token: unset it to use this login');
    });

  program.command('logout')
    .description('revoke the token `swarmflow login` saved for this API, and forget it')
    .action(async () => {
      const url = resolveApiUrl(ctx.deps.env, ctx.deps.readFile);
      const token = readCredentials(ctx.deps.env, readIfExists)[url];
      if (!token) {
        ctx.print(`not logged in to ${url} (no saved token)`);
        return;
      }
      try {
        await new SwarmflowClient(url, { fetch: ctx.deps.fetch, token }).logout();
      } catch (err) {
        // An expired or revoked token is as good as logged out; still forget it.
        if (!(err instanceof ApiError && err.status === 401)) throw err;
      }
      saveCredential(ctx.deps.env, url, null);
      ctx.print(`logged out of ${url}`);
    });

  program.command('whoami')
    .description('show who the CLI calls the API as')
    .action(async () => {
      const me = await ctx.client().me();
      ctx.print(`${me.name} (${me.role}) at ${ctx.client().baseUrl}`);
    });
}
