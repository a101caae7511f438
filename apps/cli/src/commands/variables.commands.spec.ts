import type { CliDeps } from '../cli-context';
import { runCli } from '../program';
import { exportSummary, importRequestOf, stripFinalNewline } from './variables.commands';

/** In-memory deps; `fetch` answers `PUT /variables/<key>` with `status` and records the bodies sent. */
function harness(status = 201, stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const sent: { method: string; path: string; body: unknown }[] = [];
  const fetchFn = async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname.replace('/api/v1', '');
    const body = init.body === undefined ? undefined : JSON.parse(String(init.body));
    sent.push({ method: String(init.method), path, body });
    const secret = (body as { secret?: boolean } | undefined)?.secret === true;
    return new Response(JSON.stringify({
      key: decodeURIComponent(path.split('/').pop()!), value: secret ? '***' : (body as { value: string }).value, secret,
      description: '', updatedAt: '2025-03-01T12:00:00.000Z',
    }), { status });
  };
  const deps: CliDeps = {
    stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: { SWARMFLOW_URL: 'http://sf.test:8080' },
    sleep: async () => undefined, now: () => new Date(), fetch: fetchFn as unknown as typeof fetch,
    readFile: () => null, readStdin: async () => stdin,
  };
  return { deps, out: () => out.join(''), err: () => err.join(''), sent };
}

describe('swarmflow variables set', () => {
  it('leaves the secret flag and description out unless given, so the server keeps them', async () => {
    const h = harness(200);
    expect(await runCli(['variables', 'set', 'region', 'eu'], h.deps)).toBe(0);
    expect(h.sent).toEqual([{ method: 'PUT', path: '/variables/region', body: { value: 'eu' } }]);
    expect(h.out()).toBe('updated variable region\n');
  });

  it('sends --secret, --no-secret and --description', async () => {
    const h = harness();
    await runCli(['variables', 'set', 'a', 'x', '--secret', '--description', 'the a'], h.deps);
    await runCli(['variables', 'set', 'a', 'x', '--no-secret'], h.deps);
    expect(h.sent.map((s) => s.body)).toEqual([{ value: 'x', secret: true, description: 'the a' }, { value: 'x', secret: false }]);
    expect(h.out()).toBe('created variable a (secret: stored encrypted, shown as ***)\ncreated variable a\n');
    expect(h.err()).toBe('note: a secret given on the command line stays in the shell history; pass - to read it from stdin\n');
  });

  it('reads the value from stdin with -, dropping one final newline', async () => {
    const h = harness(201, 'line one\nline two\n\n');
    expect(await runCli(['variables', 'set', 'k', '-', '--secret'], h.deps)).toBe(0);
    expect(h.sent[0].body).toEqual({ value: 'line one\nline two\n', secret: true });
    expect(h.out() + h.err()).not.toContain('line one');
    expect(h.err()).toBe('');
  });
});

describe('swarmflow variables get', () => {
  /** Deps whose API answers `GET /variables/<key>` with `variable`. */
  function getHarness(variable: { key: string; value: string; secret: boolean }) {
    const h = harness();
    h.deps.fetch = (async () => new Response(JSON.stringify({ ...variable, description: 'd', updatedAt: '2025-03-01T12:00:00.000Z' }), { status: 200 })) as unknown as typeof fetch;
    return h;
  }

  it('prints a plain value alone, for $(swarmflow variables get k)', async () => {
    const h = getHarness({ key: 'region', value: 'eu', secret: false });
    expect(await runCli(['variables', 'get', 'region'], h.deps)).toBe(0);
    expect([h.out(), h.err()]).toEqual(['eu\n', '']);
  });

  it('prints nothing on stdout for a secret, says why on stderr and exits 2', async () => {
    const h = getHarness({ key: 's3_key', value: '***', secret: true });
    expect(await runCli(['variables', 'get', 's3_key'], h.deps)).toBe(2);
    expect(h.out()).toBe('');
    expect(h.err()).toBe(
      's3_key is a secret variable: its value is never shown by the API or the CLI, so nothing was printed. ' +
      'Container tasks that list it (secrets: [s3_key]) read it from the file /secrets/variables/s3_key. ' +
      'To replace it: swarmflow variables set s3_key - --secret < file\n',
    );
  });

  it('shows a secret with --json as its flags without a value, and exits 0', async () => {
    const h = getHarness({ key: 's3_key', value: '***', secret: true });
    expect(await runCli(['variables', 'get', 's3_key', '--json'], h.deps)).toBe(0);
    expect(JSON.parse(h.out())).toEqual({ key: 's3_key', secret: true, description: 'd', updatedAt: '2025-03-01T12:00:00.000Z' });
    expect(h.err()).toBe('');
  });

  it('documents both in --help', async () => {
    const h = harness();
    expect(await runCli(['variables', 'get', '--help'], h.deps)).toBe(0);
    expect(h.out()).toContain('nothing on stdout, says so on stderr and exits 2');
    expect(h.out()).toContain('no\n"value"), and the command exits 0.');
  });
});

describe('exportSummary', () => {
  const plain = { value: 'raw', secret: false, description: '' };
  const note = '(secret values are never shown, so no export carries them: after an import, set each with `swarmflow variables set <key> - --secret`)\n';

  it('counts the variables exported and names the secrets left out, and why', () => {
    expect(exportSummary({ variables: { bucket: plain }, secrets_omitted: ['token', 's3_key'] }, 'vars.json'))
      .toBe(`exported 1 variable to vars.json; left out 2 secrets: token, s3_key\n${note}`);
    expect(exportSummary({ variables: { a: plain, b: plain }, secrets_omitted: [] }, undefined)).toBe('exported 2 variables\n');
    expect(exportSummary({ variables: {}, secrets_omitted: ['token'] }, undefined)).toBe(`exported 0 variables; left out 1 secret: token\n${note}`);
  });

  it('does not count the masked secrets an older server still listed in variables', () => {
    const older = { variables: { bucket: plain, token: { value: '***', secret: true, description: '' } }, secrets_omitted: ['token'] };
    expect(exportSummary(older, 'vars.json')).toBe(`exported 1 variable to vars.json; left out 1 secret: token\n${note}`);
  });
});

describe('stripFinalNewline', () => {
  it.each([['abc\n', 'abc'], ['abc\r\n', 'abc'], ['abc', 'abc'], ['abc\n\n', 'abc\n'], ['', '']])('%j → %j', (input, output) => {
    expect(stripFinalNewline(input)).toBe(output);
  });
});

describe('importRequestOf', () => {
  it('sends an export file as is', () => {
    const exported = { variables: { a: { value: '1', secret: false, description: '' } }, secrets_omitted: ['s'] };
    expect(importRequestOf(exported, 'f.json')).toBe(exported);
  });

  it('wraps a flat key → value object', () => {
    expect(importRequestOf({ a: '1', variables: '2' }, 'f.json')).toEqual({ variables: { a: '1', variables: '2' } });
  });

  it.each([[null], [[1]], ['text']])('refuses %j naming the file', (json) => {
    expect(() => importRequestOf(json, 'f.json')).toThrow('f.json must hold a JSON object of key → value (or the output of `swarmflow variables export`)');
  });
});
