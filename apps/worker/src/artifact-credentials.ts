import { randomBytes } from 'node:crypto';
import { closeSync, fchownSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskMessage } from '@swarmflow/core';
import type { RunAsUser } from '@swarmflow/executors';
import { taskSecretContext, type ClusterKey } from '@swarmflow/secrets';

/** The name the artefacts store's S3 settings are sealed under for a try (the scheduler's `artifactsOf`). */
export const ARTIFACTS_SEAL = 'artifacts_s3';

/**
 * The file name of a container try's S3 credentials in its secrets mount. Variable keys
 * hold no "@", so no secret variable the task mounts can take (or overwrite) it.
 */
export const AWS_CREDENTIALS_FILE = 'swarmflow@aws-credentials';

/** What a try gets of its artefacts store. */
export interface ArtifactsAccess {
  /** Environment variables, none secret: the prefixes, and for S3 the endpoint and region. */
  env: Record<string, string>;
  /** For S3: the shared credentials file's content (INI, profile `default`), to hand over as a file; else null. */
  credentials: string | null;
  /** The secret access key, to mask in the log and outputs; null when none. */
  secret: string | null;
}

/**
 * The try's artefacts prefix as environment variables (SWARMFLOW_ARTIFACTS_URL, …_RUN_URL,
 * …_CACHED_URLS) and, for an S3 store, the settings opened from their seal: endpoint and
 * region as AWS_ENDPOINT_URL and AWS_REGION, the keys as a shared credentials file (what
 * every AWS SDK and the CLI read through AWS_SHARED_CREDENTIALS_FILE), never as variables,
 * which `docker inspect` and /proc/<pid>/environ would show.
 * @throws Error with a message fit for the try's log
 */
/** No environment to add (shared, frozen: the hot path of a try without artefacts allocates nothing). */
export const NO_ENV: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** A try without an artefacts store (shared, frozen; never given credentials, so never written to). */
export const NO_ARTIFACTS: ArtifactsAccess = Object.freeze({ env: NO_ENV, credentials: null, secret: null });

export function artifactsAccess(task: TaskMessage, clusterKey: ClusterKey | null, worker: string): ArtifactsAccess {
  const a = task.artifacts;
  if (!a) return NO_ARTIFACTS;
  const env: Record<string, string> = { SWARMFLOW_ARTIFACTS_URL: a.url, SWARMFLOW_ARTIFACTS_RUN_URL: a.runUrl };
  if (a.cached) env.SWARMFLOW_ARTIFACTS_CACHED_URLS = JSON.stringify(a.cached);
  if (a.s3 === undefined) return { env, credentials: null, secret: null };
  if (clusterKey === null) {
    throw new Error(`worker ${worker} has no cluster key to open the artefacts store's credentials: set SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE on the worker`);
  }
  let s3: { endpoint: string | null; region: string; accessKeyId: string; secretAccessKey: string };
  try {
    s3 = JSON.parse(clusterKey.decryptFor(a.s3, taskSecretContext('secret', ARTIFACTS_SEAL, task.tiId, task.tryNumber)));
  } catch (err) {
    throw new Error(`cannot open the artefacts store's credentials: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (/[\r\n]/.test(s3.accessKeyId) || /[\r\n]/.test(s3.secretAccessKey)) {
    throw new Error('the artefacts store\'s credentials hold a line break. Fix: set artifacts_s3_access_key_id and artifacts_s3_secret_access_key again, without one');
  }
  if (s3.endpoint) env.AWS_ENDPOINT_URL = s3.endpoint;
  env.AWS_REGION = s3.region;
  const credentials = `[default]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`;
  return { env, credentials, secret: s3.secretAccessKey };
}

/**
 * Writes a process try's credentials file in `dir`, mode 0400, owned by the user the task
 * runs as (`runAs`, when the worker switches users), and returns its path. The name is
 * fresh and the file created exclusively: nothing at that path is followed or reused.
 */
export function writeCredentialsFile(dir: string, task: Pick<TaskMessage, 'tiId' | 'tryNumber'>, content: string, runAs: RunAsUser | null): string {
  const path = join(dir, `swarmflow-aws-credentials-${task.tiId}-${task.tryNumber}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(path, 'wx', 0o400);
  try {
    writeSync(fd, content);
    if (runAs !== null) fchownSync(fd, runAs.uid, runAs.gid);
  } catch (err) {
    // Not left on disk half-made (it holds the secret key): the try fails with the error.
    closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
  return path;
}
