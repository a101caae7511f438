// Where an import error is, read from the message the DAG processor stores (apps/scheduler/src/dag-processor/import-error.ts).

/**
 * `file:line` as the DAG processor writes it (`etl/daily.ts:2:44: …`, `_shared/config.ts:3, imported by …`,
 * `thrown in _shared/config.ts:3, …`): a path relative to the DAGs folder, at the start of a line or after
 * a space. Stack frames' absolute paths (`(/srv/dags/etl/daily.ts:4:11)`) do not match.
 */
const FILE_LINE = /(?:^|[\s(])((?:[\w@.+-]+\/)*[\w@.+-]+\.(?:[cm]?[jt]sx?|ya?ml|json)):(\d+)\b/gm;

/**
 * Where an import error is: `line`, only when the message pins one in the DAG file itself
 * (`fileloc`); `elsewhere`, the first place it names in another file (a module the DAG file
 * imports), which is not a line of the DAG file.
 */
export function locate(message: string, fileloc: string): { line: number | null; elsewhere: { file: string; line: number } | null } {
  let line: number | null = null;
  let elsewhere: { file: string; line: number } | null = null;
  for (const m of message.matchAll(FILE_LINE)) {
    if (m[1] === fileloc) line ??= Number(m[2]);
    else elsewhere ??= { file: m[1]!, line: Number(m[2]) };
  }
  return { line, elsewhere };
}
