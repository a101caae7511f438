import { Command } from 'commander';
import { ROLES } from '@swarmflow/core';
import { toUserDto } from '../../../webserver/src/http/auth.presenters';
import type { UserDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { CliError } from '../errors';
import { formatDate, table } from '../format';
import { DATABASE_OPTION_HELP, withDatabase } from './accounts-backend';

/** Reads a password piped on stdin, without the newline `echo` leaves. */
export async function readPasswordFromStdin(ctx: CommandContext): Promise<string> {
  const text = (await ctx.readStdin()).replace(/\r?\n$/, '');
  if (!text) throw new CliError('--password-stdin read nothing: pipe the password in, e.g. `cat admin-password | swarmflow users create …`');
  return text;
}

function parseRole(text: string): string {
  if (!(ROLES as readonly string[]).includes(text)) throw new CliError(`--role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(text)})`);
  return text;
}

export function formatUsersTable(users: UserDto[]): string {
  if (users.length === 0) return 'No users. Create one with `swarmflow users create <name> --role admin --password-stdin`.';
  return table(['USER', 'ROLE', 'PASSWORD', 'DISABLED', 'CREATED'], users.map((u) => [
    u.name, u.role, u.hasPassword ? 'yes' : 'no (tokens only)', u.disabled ? 'yes' : 'no', formatDate(u.createdAt),
  ]));
}

export function registerUserCommands(program: Command, ctx: CommandContext): void {
  const users = program.command('users').description('list, create and change the users of the API (admins; or --database)')
    .addHelpText('after', `\nRoles: viewer (reads; own tokens), operator (+ trigger, clear, kill, mark, cancel runs, pause, workers), admin (+ variables, pools, users, everyone's tokens, audit).`);

  users.command('list')
    .description('list the users and their roles')
    .option('--json', 'print the raw JSON')
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (opts: { json?: boolean; database?: boolean }) => {
      const list = opts.database
        ? await withDatabase(ctx, { action: 'read', target: null }, async (a) => (await a.listUsers()).map(toUserDto))
        : await ctx.client().listUsers();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatUsersTable(list));
    });

  users.command('create')
    .description('create a user (without --password-stdin: a user that can only hold API tokens)')
    .argument('<name>', 'user name')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`, parseRole)
    .option('--password-stdin', 'read the password from stdin (keeps it out of the shell history)')
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (name: string, opts: { role: string; passwordStdin?: boolean; database?: boolean }) => {
      const password = opts.passwordStdin ? await readPasswordFromStdin(ctx) : undefined;
      const user = opts.database
        ? await withDatabase(ctx, { action: 'user.create', target: name, detail: { role: opts.role } },
          async (a) => toUserDto(await a.createUser({ name, role: opts.role as UserDto['role'], password: password ?? null })))
        : await ctx.client().createUser({ name, role: opts.role, password });
      ctx.print(`created user ${user.name} (${user.role})${user.hasPassword ? '' : '; no password: give it a token with `swarmflow tokens create --user ' + user.name + '`'}`);
    });

  users.command('set-role')
    .description("change a user's role (the last admin cannot be demoted)")
    .argument('<name>', 'user name')
    .argument('<role>', `${ROLES.join(', ')}`, parseRole)
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (name: string, role: string, opts: { database?: boolean }) => {
      const user = opts.database
        ? await withDatabase(ctx, { action: 'user.update', target: name, detail: { role } }, async (a) => toUserDto(await a.setRole(name, role as UserDto['role'])))
        : await ctx.client().updateUser(name, { role });
      ctx.print(`user ${user.name} is now ${user.role}`);
    });

  users.command('reset-password')
    .description("set a user's password (read from stdin); ends its browser sessions")
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the new password from stdin (the only way: keeps it out of the shell history)')
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (name: string, opts: { passwordStdin?: boolean; database?: boolean }) => {
      if (!opts.passwordStdin) throw new CliError('reset-password reads the new password from stdin: add --password-stdin, e.g. `cat new-password | swarmflow users reset-password alice --password-stdin`');
      const password = await readPasswordFromStdin(ctx);
      if (opts.database) await withDatabase(ctx, { action: 'user.password', target: name }, (a) => a.resetPassword(name, password));
      else await ctx.client().setPassword(name, password);
      ctx.print(`password of ${name} changed`);
    });

  for (const [command, disabled] of [['disable', true], ['enable', false]] as const) {
    users.command(command)
      .description(disabled ? 'disable a user: it cannot log in and its tokens stop working (the last admin cannot be disabled)' : 'enable a disabled user again')
      .argument('<name>', 'user name')
      .option('--database', DATABASE_OPTION_HELP)
      .action(async (name: string, opts: { database?: boolean }) => {
        if (opts.database) await withDatabase(ctx, { action: 'user.update', target: name, detail: { disabled } }, (a) => a.setDisabled(name, disabled));
        else await ctx.client().updateUser(name, { disabled });
        ctx.print(`${command}d user ${name}`);
      });
  }

  users.command('delete')
    .description('delete a user with its tokens (the last admin cannot be deleted)')
    .argument('<name>', 'user name')
    .option('--database', DATABASE_OPTION_HELP)
    .action(async (name: string, opts: { database?: boolean }) => {
      if (opts.database) await withDatabase(ctx, { action: 'user.delete', target: name }, (a) => a.deleteUser(name));
      else await ctx.client().deleteUser(name);
      ctx.print(`deleted user ${name}`);
    });
}
