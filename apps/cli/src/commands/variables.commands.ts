import { Command } from 'commander';
import { ApiError, type VariableDto, type VariableEntryDto, type VariablesExportDto, type VariablesImportRequestDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { CliError, EXIT_NO_SUCH_VARIABLE } from '../errors';
import { formatVariablesTable } from '../format';

const SET_EXAMPLES = `
Examples:
  $ swarmflow variables set region eu --description "default region"
  $ swarmflow variables set s3_secret_key - --secret < key.txt
  $ printf %s "$TOKEN" | swarmflow variables set api_token - --secret

A secret is encrypted with the cluster key and never shown again (\`variables list\` masks it
as ***; \`variables get\` refuses it). Setting an existing secret again keeps it secret unless
--no-secret is given.
Pass - as the value to read it from stdin and keep it out of the shell history.`;

const GET_HELP = `
Exit codes: 0 printed the value; 1 no variable has that key; 2 it is a secret (or the
request failed).
A secret variable's value is never returned by the API or shown by the CLI: \`get\` prints
nothing on stdout, says so on stderr and exits 2, so a script reading
\`$(swarmflow variables get <key>)\` sees a failure, never a placeholder it would take for
the value. Container tasks that list the key in \`secrets\` read the value from the file
/secrets/variables/<key>.
With --json a secret is shown as { "key", "secret": true, "description", "updatedAt" } (no
"value"), and the command exits 0.`;

const IMPORT_HELP = `
The file is a JSON object of key → value, or key → { "value", "secret"?, "description"? },
or the output of \`swarmflow variables export\` (the secrets it lists in secrets_omitted are
left untouched).`;

const EXPORT_HELP = `
The output is { "variables": { key: { "value", "secret", "description" } }, "secrets_omitted": [key] }:
"variables" holds every plain variable, and only those; "secrets_omitted" names the secret
variables, whose values the API never returns. \`swarmflow variables import\` reads it back.`;

/** Drops the one newline that `echo` or an editor leaves at the end of a value read from stdin. */
export function stripFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * The import request for a file's JSON: `{ variables, secrets_omitted? }` (an export) as is,
 * any other object as key → entry.
 */
export function importRequestOf(json: unknown, file: string): VariablesImportRequestDto {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CliError(`${file} must hold a JSON object of key → value (or the output of \`swarmflow variables export\`)`);
  }
  const obj = json as Record<string, unknown>;
  const isExport = obj.variables !== null && typeof obj.variables === 'object' && !Array.isArray(obj.variables) &&
    Object.keys(obj).every((k) => k === 'variables' || k === 'secrets_omitted');
  return isExport ? (obj as unknown as VariablesImportRequestDto) : { variables: obj as Record<string, VariableEntryDto> };
}

/** Why `variables get <key>` printed nothing for a secret, and how its value is used and replaced. */
export function secretNotShown(key: string): string {
  return `${key} is a secret variable: its value is never shown by the API or the CLI, so nothing was printed. ` +
    `Container tasks that list it (secrets: [${key}]) read it from the file /secrets/variables/${key}. ` +
    `To replace it: swarmflow variables set ${key} - --secret < file`;
}

/** A secret as `get --json` shows it: its flags, and no value field (the API's mask is no value). */
function withoutValue(variable: VariableDto): Omit<VariableDto, 'value'> {
  const { key, secret, description, updatedAt } = variable;
  return { key, secret, description, updatedAt };
}

/** An empty key would address the list route (`GET /variables/`), not a variable. */
function requireKey(key: string, command: string): void {
  if (key.trim() === '') {
    throw new CliError(`the variable key is empty. Fix: give the key, e.g. swarmflow variables ${command} region`);
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function registerVariableCommands(program: Command, ctx: CommandContext): void {
  const variables = program.command('variables').description('get, set, list, delete, import and export variables (secrets are never shown)');

  variables.command('list')
    .description('list the variables (secret values masked as ***)')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().listVariables();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatVariablesTable(list));
    });

  variables.command('get')
    .description("print a variable's value; exit 1 when no variable has the key; a secret's value is never shown: nothing on stdout, exit 2")
    .argument('<key>', 'variable key')
    .option('--json', 'print the variable with its flags as JSON; a secret has "secret": true and no "value" (exit 0)')
    .addHelpText('after', GET_HELP)
    .action(async (key: string, opts: { json?: boolean }) => {
      requireKey(key, 'get');
      let variable: VariableDto;
      try {
        variable = await ctx.client().getVariable(key);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) throw new CliError(err.message, EXIT_NO_SUCH_VARIABLE);
        throw err;
      }
      if (opts.json) return ctx.printJson(variable.secret ? withoutValue(variable) : variable);
      // Printing the mask would hand `$(swarmflow variables get k)` a wrong value without a word.
      if (variable.secret) throw new CliError(secretNotShown(key));
      ctx.print(variable.value);
    });

  variables.command('set')
    .description('create or replace a variable')
    .argument('<key>', 'variable key: letters, digits, _ . - (up to 250)')
    .argument('<value>', 'the value, or - to read it from stdin (one final newline is dropped)')
    .option('--secret', 'encrypt it with the cluster key; never shown again')
    .option('--no-secret', 'store it as plain text (turns a secret into a plain variable)')
    .option('--description <text>', 'what it is for')
    .addHelpText('after', SET_EXAMPLES)
    .action(async (key: string, value: string, opts: { secret?: boolean; description?: string }) => {
      requireKey(key, 'set');
      const text = value === '-' ? stripFinalNewline(await ctx.readStdin()) : value;
      const { variable, created } = await ctx.client().setVariable(key, { value: text, secret: opts.secret, description: opts.description });
      ctx.print(`${created ? 'created' : 'updated'} variable ${variable.key}${variable.secret ? ' (secret: stored encrypted, shown as ***)' : ''}`);
      if (variable.secret && value !== '-') {
        ctx.deps.stderr('note: a secret given on the command line stays in the shell history; pass - to read it from stdin\n');
      }
    });

  variables.command('delete')
    .description('delete a variable')
    .argument('<key>', 'variable key')
    .action(async (key: string) => {
      requireKey(key, 'delete');
      await ctx.client().deleteVariable(key);
      ctx.print(`deleted variable ${key}`);
    });

  variables.command('import')
    .description('create or replace the variables of a JSON file, all or none')
    .argument('<file>', 'JSON file')
    .addHelpText('after', IMPORT_HELP)
    .action(async (file: string) => {
      const text = ctx.readFile(file);
      if (text === null) throw new CliError(`${file} does not exist`);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new CliError(`${file} is not valid JSON (${(err as Error).message})`);
      }
      const result = await ctx.client().importVariables(importRequestOf(json, file));
      ctx.print(`imported ${plural(result.created + result.updated, 'variable')} from ${file}: ${result.created} created, ${result.updated} updated`);
      const missing = new Set(result.missing ?? []);
      const kept = result.skipped.filter((key) => !missing.has(key));
      if (kept.length) {
        ctx.print(`left ${plural(kept.length, 'secret')} untouched (an export never carries secret values): ${kept.join(', ')}`);
      }
      if (missing.size) {
        ctx.print(`${plural(missing.size, 'secret')} of the file ${missing.size === 1 ? 'is' : 'are'} not set here (an export never carries secret values): ${[...missing].join(', ')}. ` +
          `Tasks that mount ${missing.size === 1 ? 'it' : 'them'} fail until set: swarmflow variables set <key> - --secret < file`);
      }
    });

  variables.command('export')
    .description('write the plain variables as JSON; secrets are left out (their values are never shown) and listed in secrets_omitted')
    .argument('[file]', 'file to write (default: stdout, with the summary on stderr)')
    .addHelpText('after', EXPORT_HELP)
    .action(async (file: string | undefined) => {
      const exported = await ctx.client().exportVariables();
      const json = `${JSON.stringify(exported, null, 2)}\n`;
      const summary = exportSummary(exported, file);
      if (file === undefined) {
        ctx.deps.stdout(json);
        // stderr: stdout stays valid JSON for pipes.
        ctx.deps.stderr(summary);
        return;
      }
      ctx.writeFile(file, json);
      ctx.deps.stdout(summary);
    });
}

/**
 * What `variables export` did, exactly: how many variables it wrote and which secrets it left
 * out, and why. Counts the keys not in `secrets_omitted`, as older servers also listed the
 * secrets in `variables`, masked.
 */
export function exportSummary(exported: VariablesExportDto, file: string | undefined): string {
  const omitted = exported.secrets_omitted;
  const count = Object.keys(exported.variables).filter((key) => !omitted.includes(key)).length;
  const head = `exported ${plural(count, 'variable')}${file === undefined ? '' : ` to ${file}`}`;
  if (omitted.length === 0) return `${head}\n`;
  return `${head}; left out ${plural(omitted.length, 'secret')}: ${omitted.join(', ')}\n` +
    `(secret values are never shown, so no export carries them: after an import, set each with \`swarmflow variables set <key> - --secret\`)\n`;
}
