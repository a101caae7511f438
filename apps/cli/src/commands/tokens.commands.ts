import { Command } from 'commander';
import { parseTokenLifetime } from '../../../webserver/src/auth/accounts';
import { toCreatedTokenDto, toTokenDto } from '../../../webserver/src/http/auth.presenters';
import type { TokenDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { CliError } from '../errors';
import { formatDate, table } from '../format';
import { DATABASE_OPTION_HELP, withDatabase } from './accounts-backend';

export function formatTokensTable(tokens: TokenDto[], now: Date): string {
  if (tokens.length === 0) return 'No tokens. Create one with `swarmflow tokens create --name <name>`.';
  const state = (t: TokenDto) => (t.revokedAt ? 'revoked' : t.expiresAt && new Date(t.expiresAt) <= now ? 'expired' : 'active');
  return table(['ID', 'NAME', 'USER', 'PREFIX', 'STATE', 'EXPIRES', 'LAST USED', 'CREATED'], tokens.map((t) => [
    t.id, t.name, t.user, `${t.prefix}…`, state(t), t.expiresAt ? formatDate(t.expiresAt) : 'never', formatDate(t.lastUsedAt), formatDate(t.createdAt),
  ]));
}

function parseId(text: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`<id> must be a token id as \`swarmflow tokens list\` shows (got ${JSON.stringify(text)})`);
  return Number(text);
}

export function registerTokenCommands(program: Command, ctx: CommandContext): void {
  const tokens = program.command('tokens').description('API tokens for scripts and CI: create (shown once; admins), list and revoke (your own; an admin: everyone\'s; or --database)');

  tokens.command('create')
    .description('create an API token and print it (only this once: it is stored as a hash). Send it as SWARMFLOW_TOKEN')
    .requiredOption('--name <name>', 'what it is for, e.g. ci')
    .option('--user <user>', 'whose role it carries (default: you; required with --database)')
    .option('--expires <duration>', 'lifetime such as 90d or 12h, or never', 'never')
    .option('--json', 'print the raw JSON (with the token)')
    .option('--database', DATABASE_OPTION_HELP)
    .addHelpText('after', '\nExamples:\n  swarmflow tokens create --name ci --expires 90d\n' +
      '  docker exec <webserver> swarmflow tokens create --name ci --user admin --database')
    .action(async (opts: { name: string; user?: string; expires: string; json?: boolean; database?: boolean }) => {
      let created;
      if (opts.database) {
        const userName = opts.user;
        if (!userName) throw new CliError('--database needs --user <name>: whose role the token carries (e.g. --user admin)');
        created = await withDatabase(ctx, { action: 'token.create', target: userName, detail: { name: opts.name, expiresIn: opts.expires } }, async (a) => {
          const lifetimeMs = parseTokenLifetime(opts.expires, '--expires');
          return toCreatedTokenDto(await a.createToken({ name: opts.name, userName, lifetimeMs }));
        });
      } else {
        created = await ctx.client().createToken({ name: opts.name, user: opts.user, expiresIn: opts.expires });
      }
      if (opts.json) return ctx.printJson(created);
      ctx.print(created.token);
      ctx.printErr(`token ${created.id} "${created.name}" for ${created.user}, ${created.expiresAt ? `expires ${formatDate(created.expiresAt)}` : 'never expires'}. ` +
        'It is shown only now: store it (e.g. as SWARMFLOW_TOKEN) before you close this terminal.');
    });

  tokens.command('list')
    .description("list tokens (never their secrets): an admin sees everyone's, anyone else their own")
    .option('--user <user>', "only this user's tokens (admins)")
    .option('--json', 'print the raw JSON')
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (opts: { user?: string; json?: boolean; database?: boolean }) => {
      const list = opts.database
        ? await withDatabase(ctx, { action: 'read', target: null }, async (a) => (await a.listTokens(opts.user)).map(toTokenDto))
        : await ctx.client().listTokens(opts.user);
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatTokensTable(list, ctx.deps.now()));
    });

  tokens.command('revoke')
    .description('revoke a token at once (the next request with it gets 401): your own, or any as an admin')
    .argument('<id>', 'token id, as `swarmflow tokens list` shows', parseId)
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (id: number, opts: { database?: boolean }) => {
      const token = opts.database
        ? await withDatabase(ctx, { action: 'token.revoke', target: String(id), detail: { tokenId: id } }, async (a) => toTokenDto(await a.revokeToken(id)))
        : await ctx.client().revokeToken(id);
      ctx.print(`revoked token ${token.id} "${token.name}" of ${token.user}`);
    });
}
