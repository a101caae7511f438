import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

/** 51-byte lines (50 digits and the newline), 20 MB of them: batches go through the log sink. */
const BYTES = 20_000_000;
const LOUD = `
id: loud
tasks:
  talk: { shell: "yes ${'0123456789'.repeat(5)} | head -c ${BYTES}" }
`;

describeWithPostgres('a try that ended has its whole log stored', () => {
  jest.setTimeout(180_000);
  const stack = useStack({ dagFiles: { 'loud.yaml': LOUD } });

  it('20 MB of output: when the try says success, every line is stored', async () => {
    // A slow log sink: each store takes a while longer, as on a busy database.
    const logs = stack().repos.logs;
    const append = logs.append.bind(logs);
    logs.append = async (batches) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await append(batches);
    };
    const run = await stack().trigger('loud', {});
    const { state, tis } = await stack().waitForRun(run, 150_000);
    expect(state).toBe('success');
    const ti = tis.get('talk')!;
    expect(ti.state).toBe('success');
    // Read at once: no waiting for the sink.
    let cursor = 0;
    let output = 0;
    for (;;) {
      const page = await stack().repos.logs.read(ti.id, 1, cursor, 1000);
      if (page.cursor === cursor) break;
      cursor = page.cursor;
      output += page.lines.filter((l) => l.stream !== 'system').length;
    }
    expect(output).toBe(Math.ceil(BYTES / 51));
  });
});
