import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { privateDir } from './private-dir';

describe('privateDir', () => {
  let root: string;
  const umask = process.umask();

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sf-private-'));
    process.umask(0);
  });

  afterEach(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('makes a new folder 0700 even under umask 0, and narrows one that was open to all', () => {
    const fresh = path.join(root, 'a', 'home');
    privateDir(fresh);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    const open = path.join(root, 'open');
    privateDir(open);
    chmodSync(open, 0o777);
    privateDir(open);
    expect(statSync(open).mode & 0o777).toBe(0o700);
  });
});
