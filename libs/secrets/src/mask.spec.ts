import { MASK, maskSecrets, secretMasker } from './mask';

describe('maskSecrets', () => {
  it('replaces every occurrence of each secret', () => {
    expect(maskSecrets('token=abc123 again abc123; key=zz', ['abc123', 'zz'])).toBe('token=*** again ***; key=***');
    expect(MASK).toBe('***');
  });

  it('masks the longest secret first when one contains another', () => {
    expect(maskSecrets('pass=hunter22 and hunter2', ['hunter2', 'hunter22'])).toBe('pass=*** and ***');
    expect(maskSecrets('abcd', ['ab', 'abcd', 'cd'])).toBe('***');
  });

  it('treats secrets as literal text, not patterns', () => {
    expect(maskSecrets('a.b a+b (x) $1 a-b', ['a.b', '(x)', '$1'])).toBe('*** a+b *** *** a-b');
    expect(maskSecrets('cost: $100', ['$100'])).toBe('cost: ***');
  });

  it('ignores empty secrets and leaves text without secrets alone', () => {
    expect(maskSecrets('nothing here', ['', 'absent'])).toBe('nothing here');
    expect(maskSecrets('nothing here', [])).toBe('nothing here');
  });

  it('masks multi-line secrets and secrets inside words', () => {
    expect(maskSecrets('-----BEGIN\nKEY\n-----END', ['BEGIN\nKEY'])).toBe('-----***\n-----END');
    expect(maskSecrets('xxsecretxx', ['secret'])).toBe('xx***xx');
  });

  it('compiles once for a stream of lines', () => {
    const mask = secretMasker(new Set(['s3cr3t']));
    expect(['a s3cr3t', 's3cr3ts3cr3t', 'none'].map(mask)).toEqual(['a ***', '******', 'none']);
  });
});
