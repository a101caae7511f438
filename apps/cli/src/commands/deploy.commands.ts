import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { CliError } from '../errors';
import { InstanceGroupsError, parseInstanceGroups, renderWorkerServices, replaceWorkerServices } from '../deploy/instance-groups';

/** `swarmflow deploy groups`: the worker services of deploy/swarm/stack.yml from groups.yaml. */
export function registerDeployCommands(program: Command, ctx: CommandContext): void {
  const deploy = program.command('deploy').description('deployment files (Docker Swarm: deploy/swarm)');

  deploy.command('groups')
    .description('generate the worker services of the Swarm stack, one per instance group of groups.yaml (printed, or written into stack.yml with --write)')
    .option('--file <groups.yaml>', 'the instance groups', 'deploy/swarm/groups.yaml')
    .option('--stack <stack.yml>', 'the stack file whose "instance groups" part --write replaces', 'deploy/swarm/stack.yml')
    .option('--write', 'replace the part of the stack file between "# BEGIN instance groups" and "# END instance groups"')
    .addHelpText('after', '\nThen: docker stack deploy -c deploy/swarm/stack.yml swarmflow')
    .action((opts: { file: string; stack: string; write?: boolean }) => {
      const text = ctx.readFile(opts.file);
      if (text === null) throw new CliError(`${opts.file} does not exist. Fix: pass --file <groups.yaml>`);
      let groups;
      try {
        groups = parseInstanceGroups(text, opts.file);
      } catch (err) {
        if (err instanceof InstanceGroupsError) throw new CliError(err.message);
        throw err;
      }
      if (!opts.write) return ctx.print(renderWorkerServices(groups));
      const stack = ctx.readFile(opts.stack);
      if (stack === null) throw new CliError(`${opts.stack} does not exist. Fix: pass --stack <stack.yml>`);
      let updated: string;
      try {
        updated = replaceWorkerServices(stack, groups, opts.stack);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      ctx.writeFile(opts.stack, updated);
      ctx.print(`${opts.stack}: ${groups.map((g) => `worker-${g.name} (${g.queues.join(',')})`).join(', ')}`);
    });
}
