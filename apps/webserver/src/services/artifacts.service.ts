import { Inject, Injectable } from '@nestjs/common';
import { artifactsUrlOf, parseArtifactsUrl, tryArtifactsLocation, type TryRef } from '@swarmflow/core';
import { FileArtifactStore, S3ArtifactStore, type ArtifactStore } from '@swarmflow/executors';
import { Repositories } from '@swarmflow/persistence';
import type { ClusterKey } from '@swarmflow/secrets';
import type { TaskArtifactsDto } from '@swarmflow/contracts/backfill.types';
import { ARTIFACTS_URL, CLUSTER_KEY, REPOSITORIES } from '../tokens';
import { ConflictError, NotFoundError } from './api-errors';
import { requireRun, requireTaskInstance } from './lookups';

/** Lists what a task try stored under its artefacts prefix (SWARMFLOW_ARTIFACTS_URL). */
@Injectable()
export class ArtifactsService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(ARTIFACTS_URL) private readonly artifactsUrl: string | null,
    @Inject(CLUSTER_KEY) private readonly clusterKey: ClusterKey | null,
  ) {}

  /**
   * The artefacts of try `tryNumber` (default the latest) of a task instance.
   * @throws NotFoundError (DAG, run, task, try), ConflictError `no_artifacts_store`
   */
  async list(dagId: string, runId: string, taskId: string, tryNumber?: number): Promise<TaskArtifactsDto> {
    const run = await requireRun(this.repos, dagId, runId);
    const ti = requireTaskInstance(run, await this.repos.tis.forRuns([run.pk]), taskId);
    const wanted = tryNumber ?? ti.tryNumber;
    // A cached task instance ran nothing: its artefacts are its source try's, under that try's prefix.
    const source = ti.state === 'cached' && tryNumber === undefined ? await this.cachedSource(ti.id, ti.tryNumber) : null;
    if (source === null && (wanted < 1 || wanted > ti.tryNumber)) {
      throw new NotFoundError('try_not_found', `task "${taskId}" of run "${runId}" has ${ti.tryNumber === 0 ? 'not run yet' : `tries 1 to ${ti.tryNumber}`}; there is no try ${wanted}.`);
    }
    if (!this.artifactsUrl) {
      throw new ConflictError('no_artifacts_store', 'this server has no artefacts store: set SWARMFLOW_ARTIFACTS_URL (s3://<bucket>/<prefix> or file:///<folder>) on the webserver and the schedulers, and restart them');
    }
    const base = parseArtifactsUrl(this.artifactsUrl);
    const location = source
      ? tryArtifactsLocation(base, source.ref)
      : tryArtifactsLocation(base, { dagId, runId, taskId, tiId: ti.id, tryNumber: wanted });
    const store = await this.store(location.kind);
    try {
      const objects = await store.list(location);
      return {
        dagId, runId, taskId, tryNumber: wanted, url: artifactsUrlOf(location), cachedFrom: source?.dto ?? null,
        artifacts: objects.map((o) => ({ name: o.name, size: o.size, modifiedAt: o.modifiedAt.toISOString(), url: o.url })),
      };
    } finally {
      if (store instanceof S3ArtifactStore) store.destroy();
    }
  }

  /** The try a cached task instance's result names as its source (null when it names none, or that try is gone). */
  private async cachedSource(tiId: number, tryNumber: number): Promise<{ ref: TryRef; dto: NonNullable<TaskArtifactsDto['cachedFrom']> } | null> {
    const result = (await this.repos.results.forTaskInstance(tiId)).find((r) => r.tryNumber === tryNumber);
    if (!result?.cachedFromRef || result.cachedFromTry === null || result.cachedFromTi === null) return null;
    const dto = { ...result.cachedFromRef, tryNumber: result.cachedFromTry };
    return { ref: { ...dto, tiId: result.cachedFromTi }, dto };
  }

  private store(kind: 's3' | 'file'): Promise<ArtifactStore> {
    return openArtifactStore(this.repos, this.clusterKey, kind);
  }
}

/**
 * The artefacts store, with the S3 settings from the artifacts_s3_* variables (secrets
 * opened with the cluster key). The caller destroys an S3 store when done.
 * @throws ConflictError `no_artifacts_store` when the settings are missing or cannot be opened
 */
export async function openArtifactStore(repos: Repositories, clusterKey: ClusterKey | null, kind: 's3' | 'file'): Promise<ArtifactStore> {
  if (kind === 'file') return new FileArtifactStore();
  const vars = new Map((await repos.variables.many(['artifacts_s3_endpoint', 'artifacts_s3_region', 'artifacts_s3_access_key_id', 'artifacts_s3_secret_access_key']))
    .map((v) => [v.key, v]));
  const value = (key: string): string | null => {
    const v = vars.get(key);
    if (!v) return null;
    if (!v.isSecret) return v.value;
    if (!clusterKey) throw new ConflictError('no_artifacts_store', `the secret variable "${key}" cannot be opened: this server has no cluster key (SWARMFLOW_CLUSTER_KEY)`);
    return clusterKey.decrypt(v.value);
  };
  const accessKeyId = value('artifacts_s3_access_key_id');
  const secretAccessKey = value('artifacts_s3_secret_access_key');
  if (accessKeyId === null || secretAccessKey === null) {
    throw new ConflictError('no_artifacts_store', 'the artefacts store is in S3 and the variables artifacts_s3_access_key_id and artifacts_s3_secret_access_key are not both set: `swarmflow variables set <key> - --secret`');
  }
  return new S3ArtifactStore({ endpoint: value('artifacts_s3_endpoint') || null, region: value('artifacts_s3_region') || 'us-east-1', accessKeyId, secretAccessKey });
}
