// Docker's reference grammar (github.com/distribution/reference): [domain/]path[:tag][@digest].
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:([0-9a-fA-F]{32,})$/;
const MAX_NAME_LENGTH = 255;

/** What is wrong with an image reference, and how to fix it. */
export interface ImageReferenceProblem {
  problem: string;
  fix: string;
}

/**
 * Checks an image reference `[registry[:port]/]repository[:tag][@digest]` as Docker reads
 * it: repository path components lowercase, tag at most 128 characters, digest
 * `<algorithm>:<hex>` (64 hex digits for sha256), name at most 255 characters.
 * Returns null when `ref` is valid.
 */
export function imageReferenceProblem(ref: string): ImageReferenceProblem | null {
  const bad = (problem: string, fix: string): ImageReferenceProblem => ({ problem: `is not a valid image reference: ${problem}`, fix });
  if (ref === '') return bad('it is empty', 'give an image like "python:3.12-slim"');
  if (/\s/.test(ref)) return bad('it contains whitespace', 'write it without spaces, like "python:3.12-slim"');
  const at = ref.indexOf('@');
  const nameTag = at === -1 ? ref : ref.slice(0, at);
  if (at !== -1) {
    const digest = ref.slice(at + 1);
    const match = DIGEST.exec(digest);
    if (!match || (digest.startsWith('sha256:') && match[1].length !== 64)) {
      return bad(`digest "${digest}" must be <algorithm>:<hex digits>, e.g. "sha256:" and 64 hex digits`, 'copy the digest from `docker images --digests`, or leave out "@…"');
    }
  }
  const colon = nameTag.lastIndexOf(':');
  const hasTag = colon > nameTag.lastIndexOf('/');
  const name = hasTag ? nameTag.slice(0, colon) : nameTag;
  const tag = hasTag ? nameTag.slice(colon + 1) : null;
  if (tag !== null && !TAG.test(tag)) {
    return bad(`tag "${tag}" may only contain letters, digits, "_", "." and "-", not start with "." or "-", and be at most 128 characters`, 'use a tag like "1.4.2" or "latest"');
  }
  if (name.length > MAX_NAME_LENGTH) return bad(`the name is ${name.length} characters long, more than ${MAX_NAME_LENGTH}`, 'use a shorter repository name');
  const parts = name.split('/');
  const first = parts[0];
  // The first part is a registry when it looks like a host. (Docker also takes a first part with
  // capitals for one, but "MyOrg/app" is far more often a Docker Hub name with a typo.)
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain && !DOMAIN.test(first)) return bad(`registry "${first}" is not a valid host[:port]`, 'use a registry like "ghcr.io" or "registry.local:5000"');
  const path = hasDomain ? parts.slice(1) : parts;
  for (const component of path) {
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) {
      const lower = [...(hasDomain ? [first] : []), ...path.map((c) => c.toLowerCase())].join('/') + ref.slice(name.length);
      return bad(`the repository "${path.join('/')}" must be lowercase`, `write it in lowercase: "${lower}"`);
    }
    return bad(`"${component}" is not a valid repository name`, 'use lowercase letters and digits, separated by single ".", "_", "__" or "-", like "python:3.12-slim" or "ghcr.io/org/trainer:1.4"');
  }
  return null;
}
