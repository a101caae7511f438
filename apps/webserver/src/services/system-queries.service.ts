import { Inject, Injectable } from '@nestjs/common';
import { Repositories, type ImportError, type Pool, type WorkerRecord } from '@swarmflow/persistence';
import { REPOSITORIES } from '../tokens';
import { ConflictError, NotFoundError } from './api-errors';

/** The pool tasks use when they name none; it cannot be deleted. */
export const DEFAULT_POOL = 'default_pool';

/** Import errors, workers and pools: read as stored; pools are also set and deleted here. */
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

  /** Creates or resizes a pool (description undefined: keep it); the scheduler applies it within a tick. */
  async setPool(input: { name: string; slots: number; description?: string }): Promise<{ pool: Pool; created: boolean }> {
    const description = input.description ?? (await this.repos.pools.get(input.name))?.description ?? '';
    const pool = { name: input.name, slots: input.slots, description };
    return { pool, created: await this.repos.pools.upsert(pool) };
  }

  /** @throws NotFoundError, ConflictError `default_pool` */
  async deletePool(name: string): Promise<void> {
    if (name === DEFAULT_POOL) {
      throw new ConflictError('default_pool', `${DEFAULT_POOL} cannot be deleted: tasks that name no pool use it. Resize it instead (PUT /pools/${DEFAULT_POOL}).`);
    }
    if (!(await this.repos.pools.delete(name))) {
      throw new NotFoundError('pool_not_found', `pool "${name}" does not exist. List the pools with \`swarmflow pools list\`.`);
    }
  }
}
