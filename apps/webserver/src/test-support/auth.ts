import type { INestApplication } from '@nestjs/common';
import type { Role } from '@swarmflow/core';
import type { Repositories } from '@swarmflow/persistence';
import request from 'supertest';
import { Accounts } from '../auth/accounts';

let counter = 0;

/**
 * A user of `role` (no password: a robot) and an API token for it, straight through the
 * repositories: what a test needs to call the API. Returns the token's secret.
 */
export async function createTestToken(repos: Repositories, role: Role = 'admin', name = `test-${role}-${++counter}`): Promise<string> {
  const accounts = new Accounts(repos, () => new Date());
  const user = (await repos.users.get(name)) ?? await accounts.createUser({ name, role, password: null });
  return (await accounts.createToken({ name: 'test', userName: user.name, lifetimeMs: null })).token;
}

/** A supertest agent that sends `Authorization: Bearer <token>` on every request. */
export function apiAs(app: INestApplication, token: string) {
  return request.agent(app.getHttpServer()).set('Authorization', `Bearer ${token}`);
}
