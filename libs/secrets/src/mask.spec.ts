import { logMasker, MASK, maskOutputs, maskSecrets, MIN_MASKED_LENGTH, secretMasker } from './mask';

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

describe('logMasker', () => {
  it('masks each line of a multi-line secret, as a log shows it line by line', () => {
    const { mask, tooShort } = logMasker([{ name: 'pem', value: '-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34\r\n}\r\n-----END KEY-----' }]);
    expect(['-----BEGIN KEY-----', 'MIIBOgIBAAJBAKj34', '}', 'x -----END KEY----- y'].map(mask)).toEqual(['***', '***', '}', 'x *** y']);
    expect(tooShort).toEqual([]);
  });

  it('does not mask a secret shorter than 4 characters, and names it', () => {
    const { mask, tooShort } = logMasker([{ name: 'a', value: 'a' }, { name: 'pin', value: '123' }, { name: 'ok', value: 'abcd' }, { name: 'empty', value: '' }]);
    expect(mask('a banana 123 abcd')).toBe('a banana 123 ***');
    expect(tooShort).toEqual(['a', 'pin']);
    expect(MIN_MASKED_LENGTH).toBe(4);
  });

  it('says how long the longest masked text is', () => {
    expect(logMasker([{ name: 'x', value: 'abcd\nlonger line' }]).mask.longest).toBe(16);
    expect(logMasker([]).mask.longest).toBe(0);
  });
});

describe('maskOutputs', () => {
  const { mask } = logMasker([{ name: 'token', value: 's3cr3t-t0ken' }, { name: 'pem', value: 'line-one\nline-two' }]);

  it('masks secret values in string values and keys at any depth, as the log is masked', () => {
    const outputs = {
      uri: 's3://b/model?token=s3cr3t-t0ken', n: 3, ok: true, none: null,
      nested: { list: ['s3cr3t-t0ken', 'line-two', 7], 's3cr3t-t0ken': 'as a key' },
    };
    expect(maskOutputs(outputs, mask)).toEqual({
      uri: 's3://b/model?token=***', n: 3, ok: true, none: null,
      nested: { list: ['***', '***', 7], '***': 'as a key' },
    });
    expect(outputs.nested.list[0]).toBe('s3cr3t-t0ken');
  });

  it('returns the same object when nothing is secret, and keeps a "__proto__" key a key', () => {
    const plain = { a: 'x', b: [1, { c: 'y' }] };
    expect(maskOutputs(plain, mask)).toBe(plain);
    const odd = JSON.parse('{"__proto__": "s3cr3t-t0ken", "k": 1}') as Record<string, unknown>;
    const masked = maskOutputs(odd, mask);
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(JSON.stringify(masked)).toBe('{"__proto__":"***","k":1}');
  });

  it('masks a numeric secret written as a JSON number, and leaves other numbers numbers', () => {
    const { mask: pinMask } = logMasker([{ name: 'pin', value: '48213977' }]);
    expect(maskOutputs({ pin: 48213977, rows: 3, list: [48213977, 1.5] }, pinMask)).toEqual({ pin: '***', rows: 3, list: ['***', 1.5] });
  });

  it('keeps two keys apart when masking makes them equal', () => {
    expect(maskOutputs({ 's3cr3t-t0ken': 1, '***': 2 }, mask)).toEqual({ '***': 1, '***#1': 2 });
  });
});
