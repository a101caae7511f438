import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ustar } from './ustar';

describe('ustar', () => {
  it('writes files that tar lists and extracts with their modes and owners', () => {
    const long = `k${'x'.repeat(180)}`;
    const archive = ustar([
      { name: 'db_password', type: 'file', content: Buffer.from('s3cr3t'), mode: 0o400, uid: 65534, gid: 65534 },
      { name: 'empty', type: 'file', content: Buffer.alloc(0), mode: 0o444, uid: 0, gid: 0 },
      { name: long, type: 'file', content: Buffer.from('ü'.repeat(600)), mode: 0o400, uid: 1000, gid: 50 },
      { name: 'dir', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
    ]);
    expect(archive.length % 512).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'sf-tar-'));
    const file = join(dir, 'a.tar');
    writeFileSync(file, archive);
    const listing = execFileSync('tar', ['-tvf', file, '--numeric-owner'], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '-r-------- 65534/65534 6', '-r--r--r-- 0/0 0', '-r-------- 1000/50 1200', 'drwxr-xr-x 0/0 0',
    ]);
    expect(listing.map((l) => l.split(/\s+/).pop())).toEqual(['db_password', 'empty', long, 'dir/']);
    const out = join(dir, 'out');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xf', file, '-C', out]);
    expect(readFileSync(join(out, 'db_password'), 'utf8')).toBe('s3cr3t');
    expect(readFileSync(join(out, long), 'utf8')).toBe('ü'.repeat(600));
    expect(statSync(join(out, 'db_password')).mode & 0o777).toBe(0o400);
  });

  it('is two zero blocks when empty', () => {
    expect(ustar([])).toEqual(Buffer.alloc(1024));
  });
});
