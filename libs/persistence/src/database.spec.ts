import { escapeLiteral } from 'pg';
import { sqlLiteral } from './database';

describe('sqlLiteral', () => {
  it("quotes text exactly as node-postgres' escapeLiteral does", () => {
    for (const text of ['', 'plain', "it's", 'back\\slash', "both ' and \\", "''\\\\", '{"json": "x"}', 'ünïcode ✓']) {
      expect(sqlLiteral(text)).toBe(escapeLiteral(text));
    }
  });

  it('writes arrays in Postgres array syntax, escaping quotes and backslashes inside elements', () => {
    expect(sqlLiteral([1, null, 3])).toBe("'{1,NULL,3}'");
    expect(sqlLiteral(['a', 'b"c', 'd\\e', null])).toBe(escapeLiteral('{"a","b\\"c","d\\\\e",NULL}'));
    expect(sqlLiteral([new Date('2026-01-02T03:04:05.006Z')])).toBe(`'{"2026-01-02T03:04:05.006Z"}'`);
  });

  it('writes numbers, booleans and null bare, and refuses what has no literal', () => {
    expect([sqlLiteral(42), sqlLiteral(true), sqlLiteral(false), sqlLiteral(null), sqlLiteral(undefined)]).toEqual(['42', 'TRUE', 'FALSE', 'NULL', 'NULL']);
    expect(() => sqlLiteral(Number.NaN)).toThrow('not a SQL number');
    expect(() => sqlLiteral({})).toThrow('no SQL literal for a object');
  });
});
