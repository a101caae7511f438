import { spawn } from 'node:child_process';
import path from 'node:path';
import { Database } from '../database';
import { describeRepositoryContract } from './repositories.contract';

// The standalone database: PGlite in memory behind its socket server, with a pool of one
// as standalone mode uses it. It runs in a child process (see embedded-server.ts).
describeRepositoryContract('the embedded database (PGlite)', async () => {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '../test-support/embedded-server.ts')], {
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
  const db = new Database({ url, poolSize: 1 });
  await db.migrate();
  return {
    db,
    close: async () => {
      await db.close();
      child.kill('SIGTERM');
    },
  };
});
