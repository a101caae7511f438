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
