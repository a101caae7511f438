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

/** A path part from an id: ids are letters, digits, "_", ".", "-" (run ids also ":" and "+"), kept readable but never "." or "..". */
function part(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_.:+-]/g, '_');
  return safe === '.' || safe === '..' ? `_${safe}` : safe;
}

/** Where one run's artefacts go: `<base>/<dag>/<run>/`. */
export function runArtifactsLocation(base: ArtifactsLocation, dagId: string, runId: string): ArtifactsLocation {
  const rel = `${part(dagId)}/${part(runId)}/`;
  return base.kind === 's3' ? { ...base, prefix: base.prefix + rel } : { ...base, path: base.path + rel };
}

/** Where one try writes its artefacts: `<base>/<dag>/<run>/<task>/try-<n>/` (each try its own, so a retry never mixes with the try before). */
export function tryArtifactsLocation(base: ArtifactsLocation, dagId: string, runId: string, taskId: string, tryNumber: number): ArtifactsLocation {
  const run = runArtifactsLocation(base, dagId, runId);
  const rel = `${part(taskId)}/try-${tryNumber}/`;
  return run.kind === 's3' ? { ...run, prefix: run.prefix + rel } : { ...run, path: run.path + rel };
}

/**
 * The folder of a task's archived logs (remote logging): `<base>@logs/<dag>/<run>/<task>/`.
 * "@" is in no DAG id, so no run's artefacts folder can be this one.
 */
export function logArchiveLocation(base: ArtifactsLocation, dagId: string, runId: string, taskId: string): ArtifactsLocation {
  const rel = `@logs/${part(dagId)}/${part(runId)}/${part(taskId)}/`;
  return base.kind === 's3' ? { ...base, prefix: base.prefix + rel } : { ...base, path: base.path + rel };
}

/** The object name of one try's archived log in {@link logArchiveLocation}: JSON lines `{at, stream, line}`. */
export function logArchiveName(tryNumber: number): string {
  return `try-${tryNumber}.jsonl`;
}
