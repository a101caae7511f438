import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Environment variable holding the cluster key, base64. */
export const CLUSTER_KEY_ENV = 'SWARMFLOW_CLUSTER_KEY';
/** Environment variable naming a file (a Docker secret) that holds the cluster key, base64. */
export const CLUSTER_KEY_FILE_ENV = 'SWARMFLOW_CLUSTER_KEY_FILE';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const TOKEN_VERSION = 'v1';
/** A token sealed for one context (AES-GCM additional data): it opens only with {@link ClusterKey.decryptFor} and that context. */
const BOUND_TOKEN_VERSION = 'v2';
const GENERATE_HINT = 'generate one with `openssl rand -base64 32`';

/**
 * A bad cluster-key setting found at boot. `variable` names what to fix (an environment
 * variable or a file); the message never contains the key.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(readonly variable: string, readonly problem: string) {
    super(`${variable}: ${problem}`);
  }
}

/**
 * Why a token could not be decrypted:
 * - `malformed`: not a `v1.<iv>.<tag>.<ciphertext>` token (truncated, or never encrypted);
 * - `wrong_key`: authentication failed: another cluster key wrote it, or it was altered;
 * - `unbound`: a token that is not sealed for a context was given where one must be (a
 *   ciphertext copied from the database into a task message), or the other way round;
 * - `wrong_context`: a bound token opened for another context (copied from another task
 *   try or another variable), or under another cluster key, or altered.
 */
export type SecretDecryptReason = 'malformed' | 'wrong_key' | 'unbound' | 'wrong_context';

/** A token that cannot be decrypted; the message names the cause and the fix, never a value. */
export class SecretDecryptError extends Error {
  override name = 'SecretDecryptError';

  constructor(readonly reason: SecretDecryptReason, message: string) {
    super(message);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * The cluster key: 32 random bytes shared by webservers, schedulers and workers. It
 * encrypts secret variables at rest and inside task messages with AES-256-GCM.
 *
 * Tokens read `v1.<iv>.<tag>.<ciphertext>` (standard base64 each, 12-byte random IV,
 * 16-byte tag): the version prefix leaves room for another scheme or key rotation.
 * `v2.…` tokens are sealed for a context given to AES-GCM as additional data
 * ({@link encryptFor}): what the scheduler puts in a task message, bound to the variable
 * and the task try, so that it opens nothing anywhere else.
 */
export class ClusterKey {
  /** First 8 hex digits of SHA-256(key): tells keys apart in logs without revealing them. */
  readonly fingerprint: string;

  private constructor(private readonly key: Buffer) {
    this.fingerprint = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  /** A new random key. */
  static generate(): ClusterKey {
    return new ClusterKey(randomBytes(KEY_BYTES));
  }

  /**
   * Parses a base64 key of 32 bytes (surrounding whitespace ignored).
   * @param source what to name in the error: the variable or the file it came from.
   * @throws ConfigError naming `source` when the text is not base64 of exactly 32 bytes.
   */
  static fromBase64(text: string, source: string = CLUSTER_KEY_ENV): ClusterKey {
    const trimmed = text.trim();
    if (trimmed === '') throw new ConfigError(source, `is empty: it must hold a base64-encoded ${KEY_BYTES}-byte key (${GENERATE_HINT})`);
    if (!BASE64.test(trimmed)) throw new ConfigError(source, `is not base64: it must hold a base64-encoded ${KEY_BYTES}-byte key (${GENERATE_HINT})`);
    const key = Buffer.from(trimmed, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new ConfigError(source, `holds ${key.length} bytes once decoded; the key must be ${KEY_BYTES} bytes, base64-encoded (${GENERATE_HINT})`);
    }
    return new ClusterKey(key);
  }

  /**
   * The key from `SWARMFLOW_CLUSTER_KEY` (base64) or from the file named by
   * `SWARMFLOW_CLUSTER_KEY_FILE` (a Docker secret); null when neither is set.
   * @throws ConfigError naming the variable when both are set, the file cannot be read, or the key is malformed.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ClusterKey | null {
    const inline = env[CLUSTER_KEY_ENV];
    const file = env[CLUSTER_KEY_FILE_ENV]?.trim();
    if (inline !== undefined && inline !== '' && file) {
      throw new ConfigError(CLUSTER_KEY_ENV, `and ${CLUSTER_KEY_FILE_ENV} are both set: keep only one`);
    }
    if (file) {
      let text: string;
      try {
        text = readFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new ConfigError(CLUSTER_KEY_FILE_ENV, `cannot read ${file} (${code}): point it at the file holding the base64 cluster key`);
      }
      return ClusterKey.fromBase64(text, `${CLUSTER_KEY_FILE_ENV} (${file})`);
    }
    if (inline !== undefined && inline !== '') return ClusterKey.fromBase64(inline, CLUSTER_KEY_ENV);
    return null;
  }

  /**
   * Reads the key file, or creates it with a new key (mode 0600, its folder 0700) when it
   * does not exist: the standalone server's `<home>/cluster.key`.
   * @throws ConfigError naming the file when it exists but does not hold a valid key.
   */
  static loadOrCreate(file: string): ClusterKey {
    try {
      return ClusterKey.fromBase64(readFileSync(file, 'utf8'), file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const key = ClusterKey.generate();
    try {
      // 'wx': two processes starting at once must not overwrite each other's key.
      writeFileSync(file, `${key.toBase64()}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return ClusterKey.fromBase64(readFileSync(file, 'utf8'), file);
      throw err;
    }
    return key;
  }

  /** The key as base64, to store it; never log it. */
  toBase64(): string {
    return this.key.toString('base64');
  }

  /**
   * A 32-byte key for another purpose, derived with HKDF-SHA256 (no salt, `label` as info):
   * distinct labels give independent keys, and none reveals the cluster key.
   */
  deriveKey(label: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), label, KEY_BYTES));
  }

  /** Encrypts UTF-8 text into a `v1.<iv>.<tag>.<ciphertext>` token (a new random IV each call). */
  encrypt(plaintext: string): string {
    return this.seal(TOKEN_VERSION, plaintext, null);
  }

  /**
   * Encrypts UTF-8 text into a `v2.<iv>.<tag>.<ciphertext>` token bound to `context`
   * (AES-GCM additional data, not stored in the token): only {@link decryptFor} with the
   * same context opens it.
   */
  encryptFor(plaintext: string, context: string): string {
    return this.seal(BOUND_TOKEN_VERSION, plaintext, context);
  }

  /**
   * Decrypts a token made by {@link encrypt}.
   * @throws SecretDecryptError `malformed` for anything that is not a v1 token, `wrong_key`
   *   when authentication fails (another cluster key encrypted it, or it was altered).
   */
  decrypt(token: string): string {
    const { version, iv, tag, ciphertext } = parseToken(token);
    if (version !== TOKEN_VERSION) {
      throw new SecretDecryptError('unbound', 'the token is sealed for one task try (v2): only the worker running that try opens it');
    }
    try {
      return this.open(iv, tag, ciphertext, null);
    } catch {
      throw new SecretDecryptError('wrong_key',
        `the secret was encrypted with another cluster key (this one is ${this.fingerprint}), or altered: ` +
        `give every component the key it was written with (${CLUSTER_KEY_ENV} or ${CLUSTER_KEY_FILE_ENV}), or set the secret again`);
    }
  }

  /**
   * Decrypts a token made by {@link encryptFor} with the same `context`.
   * @throws SecretDecryptError `malformed` for anything that is not a token, `unbound` for a
   *   `v1` token (not sealed for a context: a ciphertext copied from the database),
   *   `wrong_context` when authentication fails (sealed for another context, another
   *   cluster key, or altered).
   */
  decryptFor(token: string, context: string): string {
    const { version, iv, tag, ciphertext } = parseToken(token);
    if (version !== BOUND_TOKEN_VERSION) {
      throw new SecretDecryptError('unbound', 'the ciphertext is not sealed for this task try (a v1 token, as stored at rest): it is refused');
    }
    try {
      return this.open(iv, tag, ciphertext, context);
    } catch {
      throw new SecretDecryptError('wrong_context',
        `the ciphertext was sealed for another task try or variable, or with another cluster key (this one is ${this.fingerprint}), or altered: it is refused`);
    }
  }

  private seal(version: string, plaintext: string, context: string | null): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    if (context !== null) cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [version, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join('.');
  }

  /** Throws when authentication fails. */
  private open(iv: Buffer, tag: Buffer, ciphertext: Buffer, context: string | null): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    if (context !== null) decipher.setAAD(Buffer.from(context, 'utf8'));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  }
}

function parseToken(token: string): { version: string; iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  const parts = token.split('.');
  if (parts.length !== 4 || (parts[0] !== TOKEN_VERSION && parts[0] !== BOUND_TOKEN_VERSION) || !parts.slice(1).every((p) => BASE64.test(p))) {
    throw new SecretDecryptError('malformed', `not an encrypted secret: expected a ${TOKEN_VERSION}.<iv>.<tag>.<ciphertext> token`);
  }
  const [iv, tag, ciphertext] = parts.slice(1).map((p) => Buffer.from(p, 'base64'));
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SecretDecryptError('malformed', `not an encrypted secret: the token's IV must be ${IV_BYTES} bytes and its tag ${TAG_BYTES}`);
  }
  return { version: parts[0], iv, tag, ciphertext };
}
