/** Where artefacts live (`SWARMFLOW_ARTIFACTS_URL`): an S3-compatible bucket and key prefix, or a folder. */
export type ArtifactsLocation =
  | { kind: 's3'; bucket: string; prefix: string } // s3://bucket/prefix (prefix '' or ending in '/')
  | { kind: 'file'; path: string }; //                file:///absolute/folder (path ending in '/')

/** `SWARMFLOW_ARTIFACTS_URL` (or a try's prefix URL) is not one Swarmflow can use. */
export class ArtifactsUrlError extends Error {
  override name = 'ArtifactsUrlError';

  constructor(readonly url: string, problem: string) {
    super(`artefacts URL ${JSON.stringify(url)} ${problem}. Fix: use s3://<bucket>/<prefix> (endpoint and credentials from the ` +
      'artifacts_s3_* secret variables) or file:///<absolute folder>.');
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses an artefacts URL. @throws ArtifactsUrlError */
export function parseArtifactsUrl(url: string): ArtifactsLocation {
  const s3 = /^s3:\/\/([^/]*)\/?(.*)$/.exec(url);
  if (s3) {
    const [, bucket, rest] = s3;
    if (!BUCKET.test(bucket)) throw new ArtifactsUrlError(url, `names bucket "${bucket}", which is not a valid bucket name (3 to 63 lowercase letters, digits, "." or "-")`);
    const prefix = rest.replace(/\/+$/, '');
    if (prefix !== '' && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new ArtifactsUrlError(url, 'has an empty, "." or ".." part in its prefix');
    return { kind: 's3', bucket, prefix: prefix ? `${prefix}/` : '' };
  }
  const file = /^file:\/\/(\/.*)$/.exec(url);
  if (file) {
    const path = file[1].replace(/\/+$/, '');
    if (path.split('/').slice(1).some((part) => part === '.' || part === '..')) throw new ArtifactsUrlError(url, 'has a "." or ".." part');
    return { kind: 'file', path: `${path}/` };
  }
  throw new ArtifactsUrlError(url, 'is neither s3:// nor file:// (an absolute path)');
}

/** The URL of a location (always ending in '/'). */
export function artifactsUrlOf(location: ArtifactsLocation): string {
  return location.kind === 's3' ? `s3://${location.bucket}/${location.prefix}` : `file://${location.path}`;
}

/** Characters a key part keeps as they are: what DAG, task and usual run ids are made of. */
const KEPT = /^[A-Za-z0-9_.:+-]$/;
const UTF8 = new TextEncoder();

/**
 * A key (path) part from an id, reversibly: every character outside letters, digits and
 * `_ . : + -` is percent-encoded as its UTF-8 bytes (`%` itself too), and a part that would
 * be `.` or `..` has its dots encoded. Distinct ids always give distinct parts (`a/b` is
 * `a%2Fb`, `a_b` stays `a_b`), and usual ids are unchanged. {@link keyPartId} reverses it.
 */
export function keyPart(id: string): string {
  let out = '';
  for (const c of id) {
    if (KEPT.test(c)) out += c;
    else for (const byte of UTF8.encode(c)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out === '.' || out === '..' ? out.replace(/\./g, '%2E') : out;
}

/** The id a {@link keyPart} was made from. @throws URIError when `part` is not one */
export function keyPartId(part: string): string {
  return decodeURIComponent(part);
}

function under(base: ArtifactsLocation, rel: string): ArtifactsLocation {
  return base.kind === 's3' ? { ...base, prefix: base.prefix + rel } : { ...base, path: base.path + rel };
}

/** Where one run's artefacts go: `<base>/<dag>/<run>/` (ids as {@link keyPart}s). */
export function runArtifactsLocation(base: ArtifactsLocation, dagId: string, runId: string): ArtifactsLocation {
  return under(base, `${keyPart(dagId)}/${keyPart(runId)}/`);
}

/** One try: its task instance (unique across all runs, ever) and try number. */
export interface TryRef {
  dagId: string;
  runId: string;
  taskId: string;
  tiId: number;
  tryNumber: number;
}

/**
 * Where one try writes its artefacts: `<base>/<dag>/<run>/<task>/try-<n>.ti-<task instance id>/`.
 * Each try its own, so a retry never mixes with the try before; the task instance id makes it
 * unique even across runs that had the same ids (a run made again after its DAG was deleted).
 */
export function tryArtifactsLocation(base: ArtifactsLocation, t: TryRef): ArtifactsLocation {
  return under(runArtifactsLocation(base, t.dagId, t.runId), `${keyPart(t.taskId)}/${trySegment(t)}/`);
}

function trySegment(t: Pick<TryRef, 'tiId' | 'tryNumber'>): string {
  return `try-${t.tryNumber}.ti-${t.tiId}`;
}

/**
 * The folder of a task's archived logs (remote logging): `<base>@logs/<dag>/<run>/<task>/`.
 * "@" is encoded in every id part (`%40`), so no run's artefacts folder can be this one.
 */
export function logArchiveLocation(base: ArtifactsLocation, dagId: string, runId: string, taskId: string): ArtifactsLocation {
  return under(base, `@logs/${keyPart(dagId)}/${keyPart(runId)}/${keyPart(taskId)}/`);
}

/** The object name of one try's archived log in {@link logArchiveLocation}: `try-<n>.ti-<id>.jsonl`, JSON lines `{at, stream, line, seq}`. */
export function logArchiveName(t: Pick<TryRef, 'tiId' | 'tryNumber'>): string {
  return `${trySegment(t)}.jsonl`;
}
