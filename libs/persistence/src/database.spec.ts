import { escapeLiteral } from 'pg';
import { sqlLiteral } from './database';

describe('sqlLiteral', () => {
  it('quotes text without a quote or backslash as is', () => {
    for (const text of ['', 'plain', '{"json": "x"}', 'ünïcode ✓', '$sf$']) expect(sqlLiteral(text)).toBe(`'${text}'`);
  });

  it('dollar-quotes text with a quote or backslash, copied as is (sql-literal.int-spec reads them back)', () => {
    for (const text of ["it's", 'back\\slash', "both ' and \\", "''\\\\", '{"m":"{\\"a\\":1}"}', "'$", "'$s"]) {
      expect(sqlLiteral(text)).toBe(` $sf$${text}$sf$`);
    }
  });

  it("quotes text that contains the tag $sf exactly as node-postgres' escapeLiteral does", () => {
    for (const text of ["'$sf", "'$sf$", "x\\$sfy", "'$sf$'); DROP TABLE outbox; --"]) expect(sqlLiteral(text)).toBe(escapeLiteral(text));
  });

  it('writes arrays in Postgres array syntax, escaping quotes and backslashes inside elements', () => {
    expect(sqlLiteral([1, null, 3])).toBe("'{1,NULL,3}'");
    expect(sqlLiteral(['a', 'b"c', 'd\\e', null])).toBe(' $sf${"a","b\\"c","d\\\\e",NULL}$sf$');
    expect(sqlLiteral([new Date('2026-01-02T03:04:05.006Z')])).toBe(`'{"2026-01-02T03:04:05.006Z"}'`);
  });

  it('writes numbers, booleans and null bare, and refuses what has no literal', () => {
    expect([sqlLiteral(42), sqlLiteral(true), sqlLiteral(false), sqlLiteral(null), sqlLiteral(undefined)]).toEqual(['42', 'TRUE', 'FALSE', 'NULL', 'NULL']);
    expect(() => sqlLiteral(Number.NaN)).toThrow('not a SQL number');
    expect(() => sqlLiteral({})).toThrow('no SQL literal for a object');
  });
});
