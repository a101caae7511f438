import { chmodSync, mkdirSync } from 'node:fs';

/** Makes `dir` (and missing parents) and sets it to 0700, even if it existed with a wider mode. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}
