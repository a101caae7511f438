import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClusterKey, ConfigError, SecretDecryptError } from './cluster-key';

const KEY_B64 = Buffer.alloc(32, 7).toString('base64');

describe('ClusterKey', () => {
  describe('encrypt / decrypt', () => {
    const key = ClusterKey.generate();

    it('round-trips UTF-8 text, empty text included', () => {
      for (const text of ['s3cr3t', '', 'pässwörd 🔑\nline two', 'x'.repeat(100_000)]) {
        expect(key.decrypt(key.encrypt(text))).toBe(text);
      }
    });

    it('writes v1.<iv>.<tag>.<ciphertext> with a fresh 12-byte IV each time', () => {
      const a = key.encrypt('same');
      const b = key.encrypt('same');
      expect(a).not.toBe(b);
      const [version, iv, tag, ciphertext] = a.split('.');
      expect(version).toBe('v1');
      expect(Buffer.from(iv, 'base64')).toHaveLength(12);
      expect(Buffer.from(tag, 'base64')).toHaveLength(16);
      expect(Buffer.from(ciphertext, 'base64')).toHaveLength(4);
      expect(a).not.toContain('same');
    });

    it('says the token was encrypted with another cluster key', () => {
      const token = ClusterKey.generate().encrypt('s3cr3t');
      let caught: unknown;
      try {
        key.decrypt(token);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SecretDecryptError);
      expect(caught).toMatchObject({ reason: 'wrong_key' });
      expect((caught as Error).message).toBe(
        `the secret was encrypted with another cluster key (this one is ${key.fingerprint}), or altered: ` +
        'give every component the key it was written with (SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE), or set the secret again',
      );
    });

    it('detects an altered ciphertext as an authentication failure', () => {
      const [v, iv, tag, ct] = key.encrypt('s3cr3t').split('.');
      const flipped = Buffer.from(ct, 'base64');
      flipped[0] ^= 1;
      expect(() => key.decrypt([v, iv, tag, flipped.toString('base64')].join('.'))).toThrow(expect.objectContaining({ reason: 'wrong_key' }));
    });

    it.each([
      ['plain text', 's3cr3t'],
      ['another version', 'v3.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA==.AA=='],
      ['a missing part', 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA=='],
      ['a short IV', 'v1.AAAA.AAAAAAAAAAAAAAAAAAAAAA==.AA=='],
      ['non-base64 parts', 'v1.!!!!.????.****'],
    ])('rejects %s as malformed', (_what, token) => {
      expect(() => ClusterKey.generate().decrypt(token)).toThrow(SecretDecryptError);
      expect(() => ClusterKey.generate().decrypt(token)).toThrow(/^not an encrypted secret: /);
    });
  });

  describe('fromBase64', () => {
    it('accepts 32 bytes of base64, with surrounding whitespace', () => {
      const key = ClusterKey.fromBase64(`  ${KEY_B64}\n`);
      expect(key.toBase64()).toBe(KEY_B64);
      expect(key.fingerprint).toMatch(/^[0-9a-f]{8}$/);
      expect(ClusterKey.fromBase64(KEY_B64).fingerprint).toBe(key.fingerprint);
    });

    it.each([
      ['', 'SWARMFLOW_CLUSTER_KEY: is empty: it must hold a base64-encoded 32-byte key (generate one with `openssl rand -base64 32`)'],
      ['not base64 at all!', 'SWARMFLOW_CLUSTER_KEY: is not base64: it must hold a base64-encoded 32-byte key (generate one with `openssl rand -base64 32`)'],
      [Buffer.alloc(16).toString('base64'), 'SWARMFLOW_CLUSTER_KEY: holds 16 bytes once decoded; the key must be 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`)'],
    ])('rejects %j naming the variable', (text, message) => {
      expect(() => ClusterKey.fromBase64(text)).toThrow(new ConfigError('SWARMFLOW_CLUSTER_KEY', message.replace(/^SWARMFLOW_CLUSTER_KEY: /, '')));
      expect(() => ClusterKey.fromBase64(text)).toThrow(message);
    });

    it('never echoes the key it rejects', () => {
      const almost = Buffer.alloc(31, 9).toString('base64');
      expect(() => ClusterKey.fromBase64(almost)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(almost) }));
    });
  });

  describe('fromEnv', () => {
    const files: Record<string, string> = { '/run/secrets/cluster_key': `${KEY_B64}\n`, '/run/secrets/bad': 'c2hvcnQ=' };
    const readFile = (p: string): string => {
      if (p in files) return files[p];
      throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    };

    it('is null when neither variable is set (or they are empty)', () => {
      expect(ClusterKey.fromEnv({}, readFile)).toBeNull();
      expect(ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY: '', SWARMFLOW_CLUSTER_KEY_FILE: '' }, readFile)).toBeNull();
    });

    it('reads SWARMFLOW_CLUSTER_KEY', () => {
      expect(ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY: KEY_B64 }, readFile)!.toBase64()).toBe(KEY_B64);
    });

    it('reads the file named by SWARMFLOW_CLUSTER_KEY_FILE (a Docker secret)', () => {
      expect(ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY_FILE: '/run/secrets/cluster_key' }, readFile)!.toBase64()).toBe(KEY_B64);
    });

    it('names the variable and the file when the file is missing or malformed', () => {
      expect(() => ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY_FILE: '/run/secrets/nope' }, readFile)).toThrow(new ConfigError(
        'SWARMFLOW_CLUSTER_KEY_FILE', 'cannot read /run/secrets/nope (ENOENT): point it at the file holding the base64 cluster key',
      ));
      expect(() => ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY_FILE: '/run/secrets/bad' }, readFile))
        .toThrow(/^SWARMFLOW_CLUSTER_KEY_FILE \(\/run\/secrets\/bad\): holds 5 bytes once decoded/);
    });

    it('refuses both variables at once', () => {
      expect(() => ClusterKey.fromEnv({ SWARMFLOW_CLUSTER_KEY: KEY_B64, SWARMFLOW_CLUSTER_KEY_FILE: '/run/secrets/cluster_key' }, readFile))
        .toThrow('SWARMFLOW_CLUSTER_KEY: and SWARMFLOW_CLUSTER_KEY_FILE are both set: keep only one');
    });
  });

  describe('loadOrCreate', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-key-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('creates a key file readable by its owner only, then loads the same key', () => {
      const file = path.join(dir, 'home', 'cluster.key');
      const created = ClusterKey.loadOrCreate(file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe(`${created.toBase64()}\n`);
      const loaded = ClusterKey.loadOrCreate(file);
      expect(loaded.fingerprint).toBe(created.fingerprint);
      expect(loaded.decrypt(created.encrypt('s3cr3t'))).toBe('s3cr3t');
    });

    it('names the file when it holds no valid key', () => {
      const file = path.join(dir, 'cluster.key');
      writeFileSync(file, 'garbage!');
      expect(() => ClusterKey.loadOrCreate(file)).toThrow(new ConfigError(file, 'is not base64: it must hold a base64-encoded 32-byte key (generate one with `openssl rand -base64 32`)'));
    });
  });
});
