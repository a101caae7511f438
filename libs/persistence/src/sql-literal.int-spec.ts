import { Database, sqlLiteral } from './database';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from './test-support/postgres';

/** Texts built to end a dollar-quoted literal early or to straddle its closing tag. */
const TRICKY = [
  '', 'plain', "it's", 'back\\slash', "both ' and \\", "''\\\\", '{"json": "x"}', 'ünïcode ✓',
  "'$", "'$s", "'$sf", "'$sf$", "'$sf$'); DROP TABLE outbox; --", "'$$", "'$s$", "'$sf$sf$", "$sf$'", "'$f$", "x'$sfx$",
  '\\$sf$\\', "'\\$", "'$1", "'$_$", "$$'$$",
  JSON.stringify({ message: JSON.stringify({ command: "echo '$HOME' \\ \"q\"" }), sig: 'a+b/=' }),
];

/** Every string of up to `n` characters over `alphabet`. */
function* strings(alphabet: string[], n: number): Generator<string> {
  if (n === 0) return yield '';
  for (const s of strings(alphabet, n - 1)) {
    yield s;
    if (s.length === n - 1) for (const c of alphabet) yield s + c;
  }
}

describeWithPostgres('sqlLiteral against PostgreSQL', () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase({ migrated: false });
    db = new Database({ url: testDb.url, poolSize: 1 });
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  /** What PostgreSQL reads from the literals, in one statement (a literal that ends early fails it or shifts the columns). */
  async function readBack(values: unknown[], cast: string): Promise<unknown[]> {
    const sql = `SELECT ${values.map((v, i) => `(${sqlLiteral(v)})::${cast} AS c${i}`).join(', ')}`;
    const [row] = await db.query(sql);
    return values.map((_, i) => row[`c${i}`]);
  }

  it('reads back every tricky text as written', async () => {
    expect(await readBack(TRICKY, 'text')).toEqual(TRICKY);
  });

  it("reads back every text of up to 5 characters over $ s f ' \\ x", async () => {
    const all = [...new Set(strings(['$', 's', 'f', "'", '\\', 'x'], 5))];
    for (let i = 0; i < all.length; i += 500) {
      const chunk = all.slice(i, i + 500);
      expect(await readBack(chunk, 'text')).toEqual(chunk);
    }
  });

  it('reads back arrays of tricky texts, and the JSON of a signed task message as jsonb', async () => {
    expect(await readBack([TRICKY], 'text[]')).toEqual([TRICKY]);
    const payloads = TRICKY.map((message, i) => ({ tiId: i, message, sig: "'$sf" }));
    expect(await readBack([JSON.stringify(payloads)], 'jsonb')).toEqual([payloads]);
  });
});
