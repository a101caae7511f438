import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a loopback port in front of a real service (PostgreSQL, RabbitMQ), for
 * failure tests: the processes under test connect through it, and {@link cut} makes the
 * service vanish for them alone (every connection is reset, new ones are closed at once)
 * until {@link restore}. Unlike restarting the real service it touches nothing other
 * tests on the machine use, and it is repeatable to the millisecond.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private down = false;
  /** Connections accepted (whether or not passed on). */
  accepted = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on 127.0.0.1 (a free port unless given); resolves with the port. */
  start(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((client) => this.onClient(client));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.server = server;
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('the proxy is not listening: call start() first');
    return address.port;
  }

  /** The service is gone for the proxy's clients: open connections are reset, new ones closed. */
  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  /** The service is back. */
  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    this.accepted++;
    if (this.down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      this.sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.sockets.delete(a);
        b.destroy();
      });
    }
  }
}
