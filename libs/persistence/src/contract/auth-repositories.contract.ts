import { Database } from '../database';
import { Repositories } from '../repositories/repositories';

/**
 * The users, tokens, sessions and audit repositories on PostgreSQL and on the embedded
 * database (standalone logs in and checks tokens on PGlite).
 */
export function describeAuthRepositoryContract(name: string, open: () => Promise<{ db: Database; close(): Promise<void> }>): void {
  describe(`auth repositories on ${name}`, () => {
    let db: Database;
    let close: () => Promise<void>;
    let repos: Repositories;
    const now = new Date('2026-01-01T00:00:00Z');
    const later = (ms: number) => new Date(now.getTime() + ms);

    beforeAll(async () => {
      ({ db, close } = await open());
      repos = new Repositories(db);
    }, 60_000);

    afterAll(async () => close?.());

    it('creates, finds, changes and deletes users; a name is taken once', async () => {
      const ann = await repos.users.create({ name: 'ann', role: 'admin', passwordHash: '$argon2id$fake' }, now);
      expect(ann).toMatchObject({ name: 'ann', role: 'admin', disabled: false, hasPassword: true, createdAt: now, updatedAt: now });
      expect(await repos.users.create({ name: 'ann', role: 'viewer', passwordHash: null }, now)).toBeNull();
      const bot = await repos.users.create({ name: 'bot', role: 'viewer', passwordHash: null }, now);
      expect(bot?.hasPassword).toBe(false);
      expect((await repos.users.passwordHash('ann'))?.hash).toBe('$argon2id$fake');
      expect(await repos.users.update('bot', { role: 'operator', disabled: true }, later(1000))).toMatchObject({ role: 'operator', disabled: true, updatedAt: later(1000) });
      expect(await repos.users.update('bot', { passwordHash: 'h2' }, later(2000))).toMatchObject({ role: 'operator', hasPassword: true });
      expect(await repos.users.update('nobody', { role: 'admin' }, now)).toBeNull();
      expect((await repos.users.list()).map((u) => u.name)).toEqual(['ann', 'bot']);
      expect(await repos.users.countActiveAdmins()).toBe(1);
      expect(await repos.users.count()).toBe(2);
    });

    it('finds a token by hash with its user, touches it at most once per granularity, revokes it', async () => {
      const ann = (await repos.users.get('ann'))!;
      const token = await repos.tokens.create({ name: 'ci', userId: ann.id, hash: 'a'.repeat(64), prefix: 'sfw_aaaaaaaa', expiresAt: later(3_600_000) }, now);
      expect(token).toMatchObject({ name: 'ci', userName: 'ann', prefix: 'sfw_aaaaaaaa', createdAt: now, expiresAt: later(3_600_000), lastUsedAt: null, revokedAt: null });
      expect(await repos.tokens.findByHash('a'.repeat(64))).toEqual({ token, user: { id: ann.id, name: 'ann', role: 'admin', disabled: false } });
      expect(await repos.tokens.findByHash('b'.repeat(64))).toBeNull();
      await repos.tokens.touch(token.id, later(10_000), 60_000);
      await repos.tokens.touch(token.id, later(20_000), 60_000);
      expect((await repos.tokens.get(token.id))?.lastUsedAt).toEqual(later(10_000));
      await repos.tokens.touch(token.id, later(80_000), 60_000);
      expect((await repos.tokens.get(token.id))?.lastUsedAt).toEqual(later(80_000));
      expect(await repos.tokens.countUsable(now)).toBe(1);
      expect(await repos.tokens.countUsable(later(3_600_000))).toBe(0);
      expect((await repos.tokens.revoke(token.id, later(5000)))?.revokedAt).toEqual(later(5000));
      expect((await repos.tokens.revoke(token.id, later(9000)))?.revokedAt).toEqual(later(5000));
      expect(await repos.tokens.revoke(999_999, now)).toBeNull();
      expect((await repos.tokens.list({ userName: 'ann' })).map((t) => t.id)).toEqual([token.id]);
      expect(await repos.tokens.list({ userName: 'bot' })).toEqual([]);
    });

    it('keeps sessions until they expire or their user goes', async () => {
      const ann = (await repos.users.get('ann'))!;
      await repos.sessions.create({ idHash: 'c'.repeat(64), userId: ann.id, csrfToken: 'csrf', expiresAt: later(60_000) }, now);
      expect(await repos.sessions.find('c'.repeat(64), now)).toEqual({
        idHash: 'c'.repeat(64), csrfToken: 'csrf', expiresAt: later(60_000), user: { id: ann.id, name: 'ann', role: 'admin', disabled: false },
      });
      expect(await repos.sessions.find('c'.repeat(64), later(60_000))).toBeNull();
      expect(await repos.sessions.deleteExpired(later(60_000))).toBe(1);
      await repos.sessions.create({ idHash: 'd'.repeat(64), userId: ann.id, csrfToken: 'csrf', expiresAt: later(60_000) }, now);
      await repos.sessions.deleteForUser(ann.id);
      expect(await repos.sessions.find('d'.repeat(64), now)).toBeNull();
    });

    it('appends audit entries and lists them newest first, since a time, by actor and action', async () => {
      const entry = (at: Date, action: string, actor: string | null) => repos.audit.append({
        at, actor, method: actor ? 'token' : null, action, target: 'dags/x', outcome: 'ok', status: 201, sourceIp: '10.0.0.1', detail: { n: 1 },
      });
      await entry(now, 'dag.trigger', 'ann');
      await entry(later(1000), 'dag.pause', 'ann');
      await entry(later(2000), 'auth.login', null);
      const all = await repos.audit.list({ limit: 10 });
      expect(all.map((e) => e.action)).toEqual(['auth.login', 'dag.pause', 'dag.trigger']);
      expect(all[2]).toMatchObject({ at: now, actor: 'ann', method: 'token', target: 'dags/x', outcome: 'ok', status: 201, sourceIp: '10.0.0.1', detail: { n: 1 } });
      expect((await repos.audit.list({ since: later(1000), limit: 10 })).map((e) => e.action)).toEqual(['auth.login', 'dag.pause']);
      expect((await repos.audit.list({ actor: 'ann', action: 'dag.trigger', limit: 10 })).map((e) => e.action)).toEqual(['dag.trigger']);
      expect(await repos.audit.list({ limit: 1 })).toHaveLength(1);
    });

    it('deletes a user with its tokens and sessions', async () => {
      expect(await repos.users.delete('ann')).toBe(true);
      expect(await repos.users.delete('ann')).toBe(false);
      expect(await repos.tokens.findByHash('a'.repeat(64))).toBeNull();
    });
  });
}
