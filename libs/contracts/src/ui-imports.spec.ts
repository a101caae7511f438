import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// The web UI takes the API's shapes from libs/contracts, never from apps/webserver (nor any
// other app): a relative import that leaves apps/ui/src, or one naming apps/, fails here.
// The contracts themselves import nothing from apps/ either.
const ROOT = path.resolve(__dirname, '../../..');

/** The source files under `dir`, tests left out (this one quotes imports in strings). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.(ts|tsx|mts)$/.test(entry.name) && !/\.spec\.ts$/.test(entry.name) ? [full] : [];
  });
}

/** Every module specifier of `import … from`, `export … from`, `import('…')` and `require('…')`. */
export function specifiers(code: string): string[] {
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])([^'"\n]+)\1/gm;
  for (let m = re.exec(code); m; m = re.exec(code)) found.push(m[2]!);
  return found;
}

/** The imports of the files under `dir` that reach outside `allowedRoot` or into apps/. */
function offending(dir: string, allowedRoot: string): string[] {
  return sources(dir).flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'))
      .filter((spec) => {
        if (spec.startsWith('.')) {
          const target = path.resolve(path.dirname(file), spec);
          return !target.startsWith(allowedRoot + path.sep);
        }
        return /(^|\/)apps\//.test(spec);
      })
      .map((spec) => `${path.relative(ROOT, file)}: ${spec}`),
  );
}

describe('imports of the web UI and the contracts', () => {
  it('finds the specifiers of every import form', () => {
    expect(specifiers(`import a from './a';\nimport type { B } from "../b";\nexport * from './c';\nimport './d.css';\nconst e = import('./e'); require('f');`))
      .toEqual(['./a', '../b', './c', './d.css', './e', 'f']);
  });

  it('the UI imports nothing outside apps/ui/src (the API types come from @swarmflow/contracts)', () => {
    const ui = path.join(ROOT, 'apps/ui/src');
    expect(sources(ui).length).toBeGreaterThan(10);
    expect(offending(ui, ui)).toEqual([]);
  });

  it('a UI import of the webserver would be caught', () => {
    const file = path.join(ROOT, 'apps/ui/src/api-types.ts');
    const spec = '../../webserver/src/http/api.types';
    expect(path.resolve(path.dirname(file), spec).startsWith(path.join(ROOT, 'apps/ui/src') + path.sep)).toBe(false);
  });

  it('the contracts import nothing from apps/', () => {
    const contracts = path.join(ROOT, 'libs/contracts/src');
    expect(offending(contracts, contracts)).toEqual([]);
  });
});
