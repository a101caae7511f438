import { Command } from 'commander';
import type { AuditEntryDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { formatDate, parsePositiveInt, table } from '../format';

export function formatAuditTable(entries: AuditEntryDto[]): string {
  if (entries.length === 0) return 'No audit entries in that period.';
  return table(['AT', 'ACTOR', 'VIA', 'ACTION', 'TARGET', 'OUTCOME', 'STATUS', 'FROM'], entries.map((e) => [
    formatDate(e.at), e.actor ?? '(anonymous)', e.method, e.action, e.target, e.outcome, e.status, e.sourceIp,
  ]));
}

export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description('the audit log: who did what, when and from where (admins)');
  audit.command('list')
    .description('list audit entries, newest first')
    .option('--since <when>', 'a duration back from now (1h, 7d) or an ISO timestamp')
    .option('--limit <n>', 'at most this many entries (1–1000)', parsePositiveInt, 100)
    .option('--user <name>', 'only what this user did')
    .option('--action <action>', 'only this action, e.g. dag.trigger')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { since?: string; limit: number; user?: string; action?: string; json?: boolean }) => {
      const entries = await ctx.client().audit({ since: opts.since, limit: opts.limit, actor: opts.user, action: opts.action });
      if (opts.json) return ctx.printJson(entries);
      ctx.print(formatAuditTable(entries));
    });
}
