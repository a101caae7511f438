import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, API tokens, browser sessions and the audit log (DESIGN.md, "Security"). Secrets are
 * stored only as hashes: passwords as argon2id, tokens and session ids as SHA-256 (they are
 * high-entropy random values, so a fast hash is enough and lets a request find its row).
 */
export class Auth1764600000000 implements MigrationInterface {
  name = 'Auth1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE app_user (
      id bigserial PRIMARY KEY,
      name varchar(100) NOT NULL UNIQUE,
      role varchar(16) NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
      password_hash text,
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE api_token (
      id bigserial PRIMARY KEY,
      name varchar(100) NOT NULL,
      user_id bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
      token_hash varchar(64) NOT NULL UNIQUE,
      prefix varchar(16) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz)`);
    await q.query(`CREATE INDEX api_token_user ON api_token (user_id)`);
    await q.query(`CREATE TABLE user_session (
      id_hash varchar(64) PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
      csrf_token varchar(64) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX user_session_user ON user_session (user_id)`);
    await q.query(`CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor varchar(100),
      method varchar(16),
      action varchar(64) NOT NULL,
      target text,
      outcome varchar(16) NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
      status integer,
      source_ip varchar(64),
      detail jsonb NOT NULL DEFAULT '{}'::jsonb)`);
    await q.query(`CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP TABLE user_session`);
    await q.query(`DROP TABLE api_token`);
    await q.query(`DROP TABLE app_user`);
  }
}
