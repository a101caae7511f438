import { Inject, Injectable } from '@nestjs/common';
import { Repositories, type Queryable, type VariableRecord } from '@swarmflow/persistence';
import { ClusterKey, MASK, SecretDecryptError } from '@swarmflow/secrets';
import type { VariableInput } from '../http/request.dto';
import { CLOCK, CLUSTER_KEY, REPOSITORIES, type Clock } from '../tokens';
import { NoClusterKeyError, NotFoundError } from './api-errors';

/** A variable as callers outside the service see it: a secret's value is {@link MASK}, never plaintext or ciphertext. */
export interface VariableView {
  key: string;
  value: string;
  secret: boolean;
  description: string;
  updatedAt: Date;
}

export interface VariablesImportResult {
  created: number;
  updated: number;
  skipped: string[];
  /** Of `skipped`, the keys no variable has here (an import into another server): tasks that mount them fail until they are set. */
  missing: string[];
}

export interface VariablesExport {
  /** The plain variables: every one the export carries. */
  variables: VariableView[];
  /** Keys of the secret variables, left out: their values never leave the server. */
  secretsOmitted: string[];
}

function view(v: VariableRecord): VariableView {
  return { key: v.key, value: v.isSecret ? MASK : v.value, secret: v.isSecret, description: v.description, updatedAt: v.updatedAt };
}

/**
 * Variables: global key/value pairs. Secret values are encrypted with the cluster key
 * before they reach the repository and leave this service in plaintext only through
 * {@link resolveForTask} (internal callers); every other answer masks them. Values are
 * never logged.
 *
 * A plain class under Nest's decorators: a scheduler can build it with `new` too.
 */
@Injectable()
export class VariablesService {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLUSTER_KEY) private readonly clusterKey: ClusterKey | null,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async list(): Promise<VariableView[]> {
    return (await this.repos.variables.list()).map(view);
  }

  /** @throws NotFoundError `variable_not_found` */
  async get(key: string): Promise<VariableView> {
    const variable = await this.repos.variables.get(key);
    if (!variable) throw notFound(key);
    return view(variable);
  }

  /**
   * Creates or replaces a variable. `secret` undefined keeps the current flag (a secret is
   * never turned into plain text by omission), `description` undefined keeps the current one.
   * @throws NoClusterKeyError when the variable is or becomes secret and the server has no cluster key.
   */
  async set(input: VariableInput): Promise<{ variable: VariableView; created: boolean }> {
    if (input.secret === true) this.requireKey('secret');
    const now = this.clock();
    return this.repos.db.transaction(async (tx) => {
      const { record, created } = await this.write(input, now, tx, 'secret');
      return { variable: view(record), created };
    });
  }

  /** @throws NotFoundError `variable_not_found` */
  async delete(key: string): Promise<void> {
    if (!(await this.repos.variables.delete(key))) throw notFound(key);
  }

  /**
   * Writes many variables in one transaction: all or none. Keys in `skip` (the secrets an
   * export left out) are left untouched, whether or not `inputs` holds them, and reported
   * as `skipped`.
   * @throws NoClusterKeyError naming the first entry that needs the key, before anything is written.
   */
  async import(inputs: VariableInput[], skip: readonly string[] = []): Promise<VariablesImportResult> {
    const skipped = new Set(skip);
    const writes = inputs.filter((v) => !skipped.has(v.key));
    const firstSecret = writes.find((v) => v.secret === true);
    if (firstSecret) this.requireKey(`variables.${firstSecret.key}`);
    const now = this.clock();
    const result: VariablesImportResult = { created: 0, updated: 0, skipped: [...skipped], missing: [] };
    await this.repos.db.transaction(async (tx) => {
      for (const input of writes) {
        const { created } = await this.write(input, now, tx, `variables.${input.key}`);
        result[created ? 'created' : 'updated']++;
      }
      const present = new Set((await this.repos.variables.many(result.skipped, tx)).map((v) => v.key));
      result.missing = result.skipped.filter((key) => !present.has(key));
    });
    return result;
  }

  /**
   * The plain variables, and the keys of the secrets left out. A secret is not in
   * `variables` even masked: the export holds exactly what it exported, and a mask in a
   * file could be imported back as a value.
   */
  async export(): Promise<VariablesExport> {
    const all = await this.repos.variables.list();
    return { variables: all.filter((v) => !v.isSecret).map(view), secretsOmitted: all.filter((v) => v.isSecret).map((v) => v.key) };
  }

  /**
   * The plaintext values of the variables among `keys`, for a task about to run: internal
   * callers only (the scheduler encrypts them again into the task message). Keys that do
   * not exist are absent from the map: the caller names them in the task's failure.
   * @throws NoClusterKeyError when one of them is secret and there is no cluster key.
   * @throws SecretDecryptError naming the variable when another cluster key encrypted it.
   */
  async resolveForTask(keys: readonly string[]): Promise<Map<string, string>> {
    const resolved = new Map<string, string>();
    for (const v of await this.repos.variables.many(keys)) {
      if (!v.isSecret) {
        resolved.set(v.key, v.value);
        continue;
      }
      const key = this.requireKey();
      try {
        resolved.set(v.key, key.decrypt(v.value));
      } catch (err) {
        if (err instanceof SecretDecryptError) throw new SecretDecryptError(err.reason, `variable "${v.key}": ${err.message}`);
        throw err;
      }
    }
    return resolved;
  }

  /** Locks the current row, decides flags and encryption, and writes. */
  private async write(input: VariableInput, now: Date, tx: Queryable, field: string): Promise<{ record: VariableRecord; created: boolean }> {
    const existing = await this.repos.variables.get(input.key, tx, { forUpdate: true });
    const isSecret = input.secret ?? existing?.isSecret ?? false;
    const value = isSecret ? this.requireKey(field).encrypt(input.value) : input.value;
    const record = { key: input.key, value, isSecret, description: input.description ?? existing?.description ?? '' };
    const { created } = await this.repos.variables.upsert(record, now, tx);
    return { record: { ...record, updatedAt: now }, created };
  }

  private requireKey(field?: string): ClusterKey {
    if (!this.clusterKey) throw new NoClusterKeyError(field);
    return this.clusterKey;
  }
}

function notFound(key: string): NotFoundError {
  return new NotFoundError('variable_not_found', `variable "${key}" does not exist. List the variables with \`swarmflow variables list\`.`);
}
