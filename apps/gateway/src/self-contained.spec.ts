import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// The gateway's image holds only its own compiled files and node (deploy/swarm/build-images.sh):
// an import of a package or of another app would fail there at start.
describe('the gateway imports only Node modules and its own files', () => {
  const dir = __dirname;
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !/\.(int-)?spec\.ts$/.test(f));

  it.each(sources)('%s', (file) => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const specifiers = [...text.matchAll(/(?:from|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s.startsWith('node:') && !/^\.\/[\w.-]+$/.test(s))).toEqual([]);
  });
});
