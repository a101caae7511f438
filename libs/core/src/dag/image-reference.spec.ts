import { imageReferenceProblem } from './image-reference';

const SHA = 'a'.repeat(64);

describe('imageReferenceProblem', () => {
  it.each([
    'python', 'python:3.12-slim', 'library/python:3', 'ghcr.io/acme/trainer:1.4', 'localhost/app', 'localhost:5000/team/app:dev',
    'registry.local:5000/a/b/c', `python@sha256:${SHA}`, `ghcr.io/acme/trainer:1.4@sha256:${SHA}`, 'my_org/my__app', 'a-b--c/x.y',
    'Ghcr.IO/acme/app', `app:${'t'.repeat(128)}`, '127.0.0.1:5000/app',
  ])('accepts %s', (ref) => {
    expect(imageReferenceProblem(ref)).toBeNull();
  });

  it.each<[string, string, string]>([
    ['', 'is not a valid image reference: it is empty', 'give an image like "python:3.12-slim"'],
    ['python:3.12 slim', 'is not a valid image reference: it contains whitespace', 'write it without spaces, like "python:3.12-slim"'],
    ['MyOrg/Trainer:1.0', 'is not a valid image reference: the repository "MyOrg/Trainer" must be lowercase', 'write it in lowercase: "myorg/trainer:1.0"'],
    ['ghcr.io/Acme/app@sha256:' + SHA, 'is not a valid image reference: the repository "Acme/app" must be lowercase', `write it in lowercase: "ghcr.io/acme/app@sha256:${SHA}"`],
    ['python:.hidden', 'is not a valid image reference: tag ".hidden" may only contain letters, digits, "_", "." and "-", not start with "." or "-", and be at most 128 characters', 'use a tag like "1.4.2" or "latest"'],
    [`app:${'t'.repeat(129)}`, `is not a valid image reference: tag "${'t'.repeat(129)}" may only contain letters, digits, "_", "." and "-", not start with "." or "-", and be at most 128 characters`, 'use a tag like "1.4.2" or "latest"'],
    ['python@sha256:abc', 'is not a valid image reference: digest "sha256:abc" must be <algorithm>:<hex digits>, e.g. "sha256:" and 64 hex digits', 'copy the digest from `docker images --digests`, or leave out "@…"'],
    [`python@sha256:${'a'.repeat(65)}`, `is not a valid image reference: digest "sha256:${'a'.repeat(65)}" must be <algorithm>:<hex digits>, e.g. "sha256:" and 64 hex digits`, 'copy the digest from `docker images --digests`, or leave out "@…"'],
    ['org/-app', 'is not a valid image reference: "-app" is not a valid repository name', 'use lowercase letters and digits, separated by single ".", "_", "__" or "-", like "python:3.12-slim" or "ghcr.io/org/trainer:1.4"'],
    ['org//app', 'is not a valid image reference: "" is not a valid repository name', 'use lowercase letters and digits, separated by single ".", "_", "__" or "-", like "python:3.12-slim" or "ghcr.io/org/trainer:1.4"'],
    ['reg_istry.io:x/app', 'is not a valid image reference: registry "reg_istry.io:x" is not a valid host[:port]', 'use a registry like "ghcr.io" or "registry.local:5000"'],
    [`${'a'.repeat(256)}:1`, 'is not a valid image reference: the name is 256 characters long, more than 255', 'use a shorter repository name'],
  ])('rejects %p', (ref, problem, fix) => {
    expect(imageReferenceProblem(ref)).toEqual({ problem, fix });
  });
});
