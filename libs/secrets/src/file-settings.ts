import { readFileSync } from 'node:fs';
import { ConfigError } from './cluster-key';

/**
 * Settings a file may give instead of the environment (a Docker secret mounted under
 * /run/secrets): `<NAME>_FILE` names the file, whose content, without a trailing newline,
 * is the value. SWARMFLOW_CLUSTER_KEY_FILE and SWARMFLOW_ADMIN_PASSWORD_FILE are read by
 * their own readers (they are never copied into the environment).
 */
export const FILE_SETTINGS = ['SWARMFLOW_DATABASE_URL', 'SWARMFLOW_AMQP_URL', 'SWARMFLOW_METRICS_TOKEN'] as const;

/**
 * Passwords that go into a URL setting, so the URL itself (host, user, database) can stay a
 * plain setting and only the password is a secret: SWARMFLOW_DATABASE_PASSWORD(_FILE) into
 * SWARMFLOW_DATABASE_URL, SWARMFLOW_AMQP_PASSWORD(_FILE) into SWARMFLOW_AMQP_URL.
 */
export const URL_PASSWORDS = {
  SWARMFLOW_DATABASE_PASSWORD: 'SWARMFLOW_DATABASE_URL',
  SWARMFLOW_AMQP_PASSWORD: 'SWARMFLOW_AMQP_URL',
} as const;

/**
 * The environment with every `*_FILE` setting above read into its variable and every URL
 * password put into its URL. Read once, at a server command's start; `env` is not changed.
 * @throws ConfigError naming the variable: both a variable and its `_FILE` set, a file that
 * cannot be read, or a password for a URL that is not set.
 */
export function resolveFileSettings(
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  const fromFile = (variable: string): string | undefined => {
    const file = env[`${variable}_FILE`]?.trim();
    if (!file) return env[variable];
    if (env[variable]?.trim()) throw new ConfigError(variable, `and ${variable}_FILE are both set: keep only one`);
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError(`${variable}_FILE`, `cannot read ${file} (${code}): point it at the file holding the value (e.g. /run/secrets/<name>)`);
    }
    return text.replace(/\r?\n$/, '');
  };
  for (const variable of FILE_SETTINGS) {
    const value = fromFile(variable);
    if (value !== undefined) out[variable] = value;
  }
  for (const [variable, urlVariable] of Object.entries(URL_PASSWORDS)) {
    const password = fromFile(variable);
    if (password === undefined || password === '') continue;
    const url = out[urlVariable]?.trim();
    if (!url || !URL.canParse(url)) {
      throw new ConfigError(variable, `needs ${urlVariable} set to a URL to put the password in, e.g. postgres://swarmflow@postgres:5432/swarmflow`);
    }
    const parsed = new URL(url);
    parsed.password = encodeURIComponent(password);
    out[urlVariable] = parsed.toString();
    delete out[variable];
  }
  return out;
}
