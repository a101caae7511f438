import type { Command } from 'commander';
import type { AutoscalerDecisionDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { formatDate, parsePositiveInt, table } from '../format';

const detailText = (d: AutoscalerDecisionDto) =>
  Object.entries(d.detail).filter(([k]) => k !== 'scaleInTo').map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`).join('; ');

export function formatAutoscalerStatus(groups: AutoscalerDecisionDto[]): string {
  if (groups.length === 0) return 'No autoscaler decision recorded yet (is `swarmflow autoscaler` running on a manager?).';
  return table(['GROUP', 'PROVIDER', 'REPLICAS', 'DESIRED', 'BACKLOG', 'RUNNING', 'LAST', 'AT', 'REASON'], groups.map((d) => [
    d.group, d.provider, d.currentReplicas, d.desiredReplicas, d.backlog, d.running, d.action, formatDate(d.at), d.reason,
  ]));
}

export function formatAutoscalerHistory(history: AutoscalerDecisionDto[]): string {
  if (history.length === 0) return 'No autoscaler decision recorded.';
  return table(['AT', 'GROUP', 'ACTION', 'FROM', 'TO', 'BACKLOG', 'RUNNING', 'REASON', 'WORKERS', 'BY'], history.map((d) => [
    formatDate(d.at), d.group, d.action, d.currentReplicas, d.desiredReplicas, d.backlog, d.running, d.reason, detailText(d), d.leader,
  ]));
}

/** `autoscaler status|history`: what the autoscaler decided (the server command `autoscaler` itself is in server-commands.ts). */
export function registerAutoscalerCommands(program: Command, ctx: CommandContext): void {
  const autoscaler = program.commands.find((c) => c.name() === 'autoscaler') ?? program.command('autoscaler');
  autoscaler.command('status')
    .description('each instance group\'s latest autoscaler decision: replicas, desired, backlog, running, why')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const view = await ctx.client().autoscaler({ limit: 1 });
      if (opts.json) return ctx.printJson(view.groups);
      ctx.print(formatAutoscalerStatus(view.groups));
    });
  autoscaler.command('history')
    .description('autoscaler decisions, newest first, with their inputs and the workers drained, resumed or removed')
    .option('--group <name>', 'only this instance group')
    .option('--limit <n>', 'at most this many decisions (1–1000)', parsePositiveInt, 50)
    .option('--json', 'print the raw JSON')
    .action(async (opts: { group?: string; limit: number; json?: boolean }) => {
      const view = await ctx.client().autoscaler({ group: opts.group, limit: opts.limit });
      if (opts.json) return ctx.printJson(view.history);
      ctx.print(formatAutoscalerHistory(view.history));
    });
}
