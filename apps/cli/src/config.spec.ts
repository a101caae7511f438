import { CliError } from './errors';
import { DEFAULT_API_URL, resolveApiUrl, resolveToken, standaloneFile } from './config';

describe('resolveApiUrl', () => {
  const noFile = () => null;

  it('prefers SWARMFLOW_URL, without a trailing slash', () => {
    expect(resolveApiUrl({ SWARMFLOW_URL: 'http://sf.internal:8080/' }, () => '{"url":"http://127.0.0.1:1234"}')).toBe('http://sf.internal:8080');
  });

  it('reads the standalone file under SWARMFLOW_HOME', () => {
    const read = jest.fn((path: string) => (path === '/data/sf/standalone.json' ? '{"url": "http://127.0.0.1:43123", "pid": 1}' : null));
    expect(resolveApiUrl({ SWARMFLOW_HOME: '/data/sf' }, read)).toBe('http://127.0.0.1:43123');
  });

  it('looks in ~/.swarmflow by default', () => {
    expect(standaloneFile({}, '/home/ada')).toBe('/home/ada/.swarmflow/standalone.json');
  });

  it('falls back to the default URL', () => {
    expect(resolveApiUrl({}, noFile)).toBe(DEFAULT_API_URL);
    expect(resolveApiUrl({}, () => '{"pid": 1}')).toBe(DEFAULT_API_URL);
  });

  it('names a bad SWARMFLOW_URL', () => {
    expect(() => resolveApiUrl({ SWARMFLOW_URL: 'localhost:8080' }, noFile))
      .toThrow(new CliError('SWARMFLOW_URL must be an http:// or https:// URL such as http://127.0.0.1:8080 (got "localhost:8080")'));
  });

  it('names a corrupt standalone file', () => {
    expect(() => resolveApiUrl({ SWARMFLOW_HOME: '/sf' }, () => '{'))
      .toThrow('/sf/standalone.json is not valid JSON: delete it (the standalone server rewrites it at start) or set SWARMFLOW_URL');
  });
});

describe('resolveToken', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path] ?? null;

  it('prefers SWARMFLOW_TOKEN', () => {
    expect(resolveToken({ SWARMFLOW_TOKEN: ' sfw_env ', SWARMFLOW_HOME: '/sf' }, 'http://a', files({ '/sf/credentials.json': '{"tokens":{"http://a":"sfw_saved"}}' })))
      .toEqual({ token: 'sfw_env', source: 'SWARMFLOW_TOKEN' });
  });

  it("uses the login's saved token for that URL only", () => {
    const read = files({ '/sf/credentials.json': '{"tokens":{"http://a":"sfw_saved"}}' });
    expect(resolveToken({ SWARMFLOW_HOME: '/sf' }, 'http://a', read)?.token).toBe('sfw_saved');
    expect(resolveToken({ SWARMFLOW_HOME: '/sf' }, 'http://b', read)).toBeNull();
  });

  it("uses standalone's token when the URL is the standalone server's", () => {
    const read = files({ '/sf/standalone.json': '{"url":"http://127.0.0.1:8080"}', '/sf/standalone-token': 'sfw_standalone\n' });
    expect(resolveToken({ SWARMFLOW_HOME: '/sf' }, 'http://127.0.0.1:8080', read)).toEqual({ token: 'sfw_standalone', source: '/sf/standalone-token' });
    expect(resolveToken({ SWARMFLOW_HOME: '/sf' }, 'http://elsewhere:8080', read)).toBeNull();
  });
});
