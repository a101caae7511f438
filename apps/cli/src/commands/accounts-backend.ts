import { hostname, userInfo } from 'node:os';
import { Database, Repositories } from '@swarmflow/persistence';
import type { AuditOutcome } from '@swarmflow/core';
import { Accounts } from '../../../webserver/src/auth/accounts';
import { RequestValidationError } from '../../../webserver/src/http/zod-validation.pipe';
import { ConflictError, NotFoundError } from '../../../webserver/src/services/api-errors';
import type { CommandContext } from '../cli-context';
import { CliError, EXIT_FAILURE } from '../errors';

/** What `--database` adds to a command's help. */
export const DATABASE_OPTION_HELP = 'work on the database at $SWARMFLOW_DATABASE_URL directly, without the API (to bootstrap, e.g. inside a server container)';

/**
 * Runs `work` on the metadata database directly (`--database`): no server, no token; whoever
 * can reach the database may. The action is audited as done by the OS user through the database.
 */
export async function withDatabase<T>(
  ctx: CommandContext,
  audit: { action: string; target: string | null; detail?: Record<string, unknown> },
  work: (accounts: Accounts, repos: Repositories) => Promise<T>,
): Promise<T> {
  const url = ctx.deps.env.SWARMFLOW_DATABASE_URL?.trim();
  if (!url) {
    throw new CliError('--database needs SWARMFLOW_DATABASE_URL. Fix: export SWARMFLOW_DATABASE_URL=postgres://user:pass@host:5432/swarmflow (as the webserver has it), or leave out --database to go through the API');
  }
  const db = new Database({ url, poolSize: 1 });
  const repos = new Repositories(db);
  const record = (outcome: AuditOutcome, detail: Record<string, unknown> = {}) => repos.audit.append({
    at: ctx.deps.now(), actor: osUser(), method: 'database', action: audit.action, target: audit.target, outcome, status: null,
    sourceIp: hostname(), detail: { ...audit.detail, ...detail },
  }).catch(() => undefined);
  try {
    if (await db.pendingMigrations()) throw new CliError('the database schema is not up to date. Fix: run `swarmflow db migrate` first');
    let result: T;
    try {
      result = await work(new Accounts(repos, () => ctx.deps.now()), repos);
    } catch (err) {
      if (audit.action !== 'read') await record('failed', { error: err instanceof Error ? err.name : 'error' });
      throw err;
    }
    if (audit.action !== 'read') await record('ok');
    return result;
  } catch (err) {
    throw asCliError(err);
  } finally {
    await db.close();
  }
}

function osUser(): string {
  try {
    return `${userInfo().username}@${hostname()}`.slice(0, 100);
  } catch {
    return `unknown@${hostname()}`.slice(0, 100);
  }
}

function asCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof RequestValidationError || err instanceof ConflictError || err instanceof NotFoundError) return new CliError(err.message);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|28P01|3D000)$/.test(code)) {
    return new CliError(`cannot reach the database at SWARMFLOW_DATABASE_URL (${(err as Error).message}). Fix: check the URL and that the database is up`);
  }
  if (err instanceof Error && /connect|ECONNREFUSED/.test(err.message)) return new CliError(`cannot reach the database at SWARMFLOW_DATABASE_URL: ${err.message}`, EXIT_FAILURE);
  return err;
}
