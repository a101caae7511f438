import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCredentialsFile } from './artifact-credentials';

describe('writeCredentialsFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sf-creds-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the file mode 0400', () => {
    const path = writeCredentialsFile(dir, { tiId: 7, tryNumber: 1 }, '[default]\n', null);
    expect(statSync(path).mode & 0o777).toBe(0o400);
  });

  it('leaves nothing on disk when it cannot finish the file (it holds the secret key)', () => {
    // A user id no chown takes (refused before the system call, also for root): the write fails after the file was made.
    const runAs = { name: 'nobody-at-all', uid: -5, gid: -5, home: '/' };
    expect(() => writeCredentialsFile(dir, { tiId: 7, tryNumber: 1 }, '[default]\n', runAs)).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
