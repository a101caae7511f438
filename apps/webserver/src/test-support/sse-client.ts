import http from 'node:http';
import { parseLiveEvent, type LiveEvent } from '@swarmflow/contracts';

export interface ReceivedEvent {
  event: LiveEvent;
  id: string;
  /** When it arrived (Date.now()). */
  at: number;
}

/**
 * A minimal server-sent-events reader for tests: collects the events of one stream and
 * waits for one that matches. `close()` ends the connection.
 */
export class SseClient {
  readonly events: ReceivedEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  private req: http.ClientRequest | null = null;
  private waiters: { match: (e: ReceivedEvent) => boolean; resolve: (e: ReceivedEvent) => void }[] = [];
  private ended = false;
  private endWaiters: (() => void)[] = [];

  /** The last id received: what a reconnecting client sends as `Last-Event-ID`. */
  get lastId(): string | null {
    return this.events.at(-1)?.id ?? null;
  }

  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        client.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            client.onBlock(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
          }
        });
        res.on('end', () => client.onEnd());
        res.on('error', () => client.onEnd());
        resolve(client);
      });
      client.req.on('error', (err) => (client.status ? client.onEnd() : reject(err)));
    });
  }

  private onBlock(block: string): void {
    let id = '';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const event = parseLiveEvent(data);
    if (!event) return;
    const received = { event, id, at: Date.now() };
    this.events.push(received);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(received)) return true;
      w.resolve(received);
      return false;
    });
  }

  private onEnd(): void {
    this.ended = true;
    for (const w of this.endWaiters) w();
  }

  /** Resolves with the first event (already received or coming) that matches; rejects after `timeoutMs`. */
  waitFor(match: (e: LiveEvent) => boolean, timeoutMs = 30_000, what = 'an event'): Promise<ReceivedEvent> {
    const seen = this.events.find((e) => match(e.event));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.event))}`)), timeoutMs);
      this.waiters.push({ match: (e) => match(e.event), resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  /** Resolves when the server ends the stream. */
  waitForEnd(timeoutMs = 30_000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the stream did not end within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  close(): void {
    this.req?.destroy();
  }
}
