import { execFile } from 'node:child_process';
import { checkDecrease, ProviderError, RemovedWorker, ScalingProvider } from './scaling-provider';

/** Runs a program without a shell; resolves with its stdout. */
export type RunFile = (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => Promise<string>;

export const runFile: RunFile = (file, args, env) => new Promise((resolve, reject) => {
  execFile(file, [...args], { env, timeout: 10 * 60_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
    if (error) reject(Object.assign(error, { stderr: String(stderr).trim().slice(-2000) }));
    else resolve(String(stdout));
  });
});

/**
 * A node group (cloud instance group, any cloud): the user's script is run as
 * `<command…> <desired>` (argv, never a shell) with SWARMFLOW_GROUP, SWARMFLOW_DESIRED and
 * SWARMFLOW_REMOVE_NODES (comma-separated) in its environment. Before a decrease, each node
 * whose worker was drained is drained in Swarm (`docker node update --availability drain`),
 * so the script removes machines that run nothing. The size is the last one set (at start:
 * the group's `replicas`).
 */
export class CommandProvider implements ScalingProvider {
  readonly kind = 'command' as const;

  constructor(
    readonly group: string,
    private readonly command: readonly string[],
    private size: number,
    private readonly run: RunFile = runFile,
    private readonly dockerCli = '/usr/bin/docker',
  ) {
    if (command.length === 0) throw new ProviderError(group, 'provider command is empty: give { command: [/path/to/script, args…] }', false);
  }

  async current(): Promise<number> {
    return this.size;
  }

  async scaleTo(desired: number, removed: readonly RemovedWorker[]): Promise<void> {
    checkDecrease(this.group, this.size, desired, removed);
    if (desired === this.size) return;
    const nodes = desired < this.size ? [...new Set(removed.map((r) => r.node))] : [];
    for (const node of nodes) {
      await this.exec(this.dockerCli, ['node', 'update', '--availability', 'drain', node], `docker node update --availability drain ${node}`);
    }
    const [file, ...args] = this.command;
    await this.exec(file, [...args, String(desired)], `${this.command.join(' ')} ${desired}`, {
      SWARMFLOW_GROUP: this.group, SWARMFLOW_DESIRED: String(desired), SWARMFLOW_REMOVE_NODES: nodes.join(','),
    });
    this.size = desired;
  }

  private async exec(file: string, args: string[], shown: string, extra: Record<string, string> = {}): Promise<void> {
    try {
      await this.run(file, args, { ...process.env, ...extra });
    } catch (e) {
      const err = e as Error & { stderr?: string; code?: unknown };
      throw new ProviderError(this.group, `${shown} failed (${err.code ?? err.message})${err.stderr ? `: ${err.stderr}` : ''}`, true);
    }
  }
}
