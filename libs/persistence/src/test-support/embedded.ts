import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Starts the standalone database (PGlite in memory behind its socket server) in a child
 * process (see embedded-server.ts), empty; resolves with its URL and how to stop it.
 */
export async function startEmbeddedServer(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'embedded-server.ts')], {
    env: { ...process.env, TSX_TSCONFIG_PATH: path.resolve(__dirname, '../../../../tsconfig.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`the embedded database exited (${code}) before it was ready`)));
  });
  return { url, stop: () => void child.kill('SIGTERM') };
}
