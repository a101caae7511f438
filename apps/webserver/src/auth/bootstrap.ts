import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Repositories } from '@swarmflow/persistence';
import { Accounts } from './accounts';
import { generatePassword } from './credentials';

/** The file standalone writes the first admin's generated password to (mode 0600). */
export const ADMIN_PASSWORD_FILE = 'admin-password';
/** The file standalone writes its local CLI's token to (mode 0600); the CLI reads it. */
export const STANDALONE_TOKEN_FILE = 'standalone-token';

function writeSecretFile(file: string, text: string): void {
  writeFileSync(file, `${text}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface StandaloneCredentials {
  /** Set on the first start only: the generated password of `admin`, to print once. */
  adminPassword: string | null;
  adminPasswordFile: string;
  /** Where the local CLI's token is, or null when none could be made (no enabled admin). */
  tokenFile: string | null;
}

/**
 * Standalone's first start creates the user `admin` with a generated password (written,
 * mode 0600, to `<home>/admin-password`), and every start makes sure `<home>/standalone-token`
 * holds a working admin token for the local CLI (a new one when it is missing, revoked or
 * expired). Later starts leave users alone.
 */
export async function ensureStandaloneCredentials(repos: Repositories, home: string, clock: () => Date = () => new Date()): Promise<StandaloneCredentials> {
  const accounts = new Accounts(repos, clock);
  const adminPasswordFile = path.join(home, ADMIN_PASSWORD_FILE);
  let adminPassword: string | null = null;
  if ((await repos.users.count()) === 0) {
    adminPassword = generatePassword();
    await accounts.createUser({ name: 'admin', role: 'admin', password: adminPassword });
    writeSecretFile(adminPasswordFile, adminPassword);
  }
  const tokenFile = path.join(home, STANDALONE_TOKEN_FILE);
  const saved = readIfExists(tokenFile)?.trim();
  if (saved) {
    const check = await accounts.authenticateToken(saved);
    if ('caller' in check && check.caller.user.role === 'admin') return { adminPassword, adminPasswordFile, tokenFile };
  }
  const admin = await repos.users.get('admin');
  if (!admin || admin.disabled || admin.role !== 'admin') return { adminPassword, adminPasswordFile, tokenFile: null };
  const created = await accounts.createToken({ name: 'standalone-cli', userName: 'admin', lifetimeMs: null });
  writeSecretFile(tokenFile, created.token);
  return { adminPassword, adminPasswordFile, tokenFile };
}

/** A distributed webserver with no admin it could be managed by. */
export class NoAdminError extends Error {
  override name = 'NoAdminError';

  constructor() {
    super('no admin user exists, so nobody could call the API: create one before starting the webserver. Fix: set ' +
      'SWARMFLOW_ADMIN_PASSWORD_FILE to a file (e.g. a Docker secret) holding the first admin\'s password, or run ' +
      '`swarmflow users create admin --role admin --password-stdin --database` with SWARMFLOW_DATABASE_URL set ' +
      '(then `swarmflow tokens create --name ci --user admin --database` prints a token for scripts)');
  }
}

/**
 * The distributed webserver's start: with `passwordFile` (SWARMFLOW_ADMIN_PASSWORD_FILE),
 * creates the admin `userName` from it when that user does not exist yet (an existing user
 * is left as it is). Then refuses (NoAdminError) when no enabled admin exists.
 * @returns whether it created the admin.
 */
export async function ensureAdmin(repos: Repositories, options: { passwordFile: string | null; userName: string }, clock: () => Date = () => new Date()): Promise<boolean> {
  const accounts = new Accounts(repos, clock);
  let created = false;
  if (options.passwordFile) {
    const text = readIfExists(options.passwordFile);
    if (text === null) throw new Error(`SWARMFLOW_ADMIN_PASSWORD_FILE: ${options.passwordFile} does not exist`);
    const password = text.replace(/\r?\n$/, '');
    if (!(await repos.users.get(options.userName))) {
      try {
        await accounts.createUser({ name: options.userName, role: 'admin', password });
      } catch (err) {
        throw new Error(`SWARMFLOW_ADMIN_PASSWORD_FILE: cannot create the admin ${options.userName}: ${(err as Error).message}`);
      }
      created = true;
    }
  }
  if (!(await accounts.hasAdmin())) throw new NoAdminError();
  return created;
}
