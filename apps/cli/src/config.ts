import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** Where the standalone server and the CLI keep their files: SWARMFLOW_HOME, else ~/.swarmflow. */
export function swarmflowHome(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  return env.SWARMFLOW_HOME?.trim() || join(home, '.swarmflow');
}

/** Written by the standalone server next to its embedded database. */
export function standaloneFile(env: NodeJS.ProcessEnv, home?: string): string {
  return join(swarmflowHome(env, home), 'standalone.json');
}

/**
 * The API's base URL: SWARMFLOW_URL, else the `url` of `<home>/standalone.json`, else
 * http://127.0.0.1:8080. Throws {@link CliError} naming the setting when it is not an http(s) URL.
 */
export function resolveApiUrl(
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string | null = readIfExists,
  home?: string,
): string {
  const fromEnv = env.SWARMFLOW_URL?.trim();
  if (fromEnv) return checkUrl(fromEnv, 'SWARMFLOW_URL');
  const file = standaloneFile(env, home);
  const text = readFile(file);
  if (text !== null) {
    let url: unknown;
    try {
      url = (JSON.parse(text) as { url?: unknown }).url;
    } catch {
      throw new CliError(`${file} is not valid JSON: delete it (the standalone server rewrites it at start) or set SWARMFLOW_URL`);
    }
    if (typeof url === 'string' && url.trim()) return checkUrl(url.trim(), file);
  }
  return DEFAULT_API_URL;
}

function checkUrl(url: string, source: string): string {
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
    throw new CliError(`${source} must be an http:// or https:// URL such as ${DEFAULT_API_URL} (got ${JSON.stringify(url)})`);
  }
  return url.replace(/\/+$/, '');
}

/** The file's text, or null when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Where `swarmflow login` keeps its tokens (mode 0600), one per API URL. */
export function credentialsFile(env: NodeJS.ProcessEnv, home?: string): string {
  return join(swarmflowHome(env, home), 'credentials.json');
}

/** Where the standalone server leaves the token its local CLI uses (mode 0600). */
export function standaloneTokenFile(env: NodeJS.ProcessEnv, home?: string): string {
  return join(swarmflowHome(env, home), 'standalone-token');
}

/** The saved tokens of `swarmflow login`, by API URL (empty when none or unreadable). */
export function readCredentials(env: NodeJS.ProcessEnv, readFile: (path: string) => string | null = readIfExists, home?: string): Record<string, string> {
  const text = readFile(credentialsFile(env, home));
  if (text === null) return {};
  try {
    const parsed = JSON.parse(text) as { tokens?: Record<string, unknown> };
    return Object.fromEntries(Object.entries(parsed.tokens ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/**
 * The API token the CLI sends for `url`: SWARMFLOW_TOKEN, else the one `swarmflow login`
 * saved for that URL, else the standalone server's (when `url` is the standalone's), else null.
 */
export function resolveToken(
  env: NodeJS.ProcessEnv,
  url: string,
  readFile: (path: string) => string | null = readIfExists,
  home?: string,
): { token: string; source: string } | null {
  const fromEnv = env.SWARMFLOW_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'SWARMFLOW_TOKEN' };
  const saved = readCredentials(env, readFile, home)[url];
  if (saved) return { token: saved, source: `${credentialsFile(env, home)} (swarmflow login)` };
  const standalone = readFile(standaloneFile(env, home));
  if (standalone !== null) {
    let standaloneUrl: unknown;
    try {
      standaloneUrl = (JSON.parse(standalone) as { url?: unknown }).url;
    } catch {
      standaloneUrl = null;
    }
    const token = typeof standaloneUrl === 'string' && standaloneUrl.replace(/\/+$/, '') === url ? readFile(standaloneTokenFile(env, home))?.trim() : null;
    if (token) return { token, source: standaloneTokenFile(env, home) };
  }
  return null;
}
