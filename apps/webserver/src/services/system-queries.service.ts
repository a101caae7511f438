import { Inject, Injectable } from '@nestjs/common';
import { Repositories, type ImportError, type Pool, type WorkerRecord } from '@swarmflow/persistence';
import { REPOSITORIES } from '../tokens';

/** Import errors, workers and pools: read as stored. */
@Injectable()
export class SystemQueriesService {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {}

  importErrors(): Promise<ImportError[]> {
    return this.repos.dags.importErrors();
  }

  workers(): Promise<WorkerRecord[]> {
    return this.repos.workers.list();
  }

  pools(): Promise<Pool[]> {
    return this.repos.pools.list();
  }
}
