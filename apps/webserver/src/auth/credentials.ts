import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** Every API token starts so: secret scanners (and people) can recognise one in a log or a repository. */
export const TOKEN_PREFIX = 'sfw_';
/** How many leading characters of a token are kept in clear, to tell tokens apart in a list. */
const SHOWN_CHARS = TOKEN_PREFIX.length + 8;
const TOKEN_SHAPE = /^sfw_[A-Za-z0-9_-]{43}$/;

/** A new API token: `sfw_` and 256 random bits (base64url); the secret, its hash and its shown prefix. */
export function newApiToken(): { secret: string; hash: string; prefix: string } {
  const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { secret, hash: sha256(secret), prefix: secret.slice(0, SHOWN_CHARS) };
}

/** True when `text` has the shape of a token this server issues (checked before any lookup). */
export function looksLikeApiToken(text: string): boolean {
  return TOKEN_SHAPE.test(text);
}

/**
 * SHA-256, hex. Enough for tokens and session ids: they are 256-bit random values, so no
 * dictionary applies, and a fast hash lets each request find its row by index.
 */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A random session id (256 bits, base64url): the cookie's value; only its hash is stored. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** A random CSRF token (base64url), stored with the session and sent back by the browser in a header. */
export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares two secrets in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A generated password: 24 random base64url characters (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** argon2id with the library's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// A hash of a random password, verified against when the user does not exist, so that an
// unknown name takes as long to refuse as a wrong password.
let decoy: Promise<string> | null = null;

/** True when `password` matches `stored`; with `stored` null, spends the same time and returns false. */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    decoy ??= hash(generatePassword());
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
