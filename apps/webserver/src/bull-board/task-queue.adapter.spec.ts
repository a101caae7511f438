import type { Repositories, TriesFilter } from '@swarmflow/persistence';
import { MAX_JOBS_PER_PAGE, TaskQueueAdapter } from './task-queue.adapter';

describe('TaskQueueAdapter', () => {
  it("bounds a page of jobs however many bull-board's request asks for", async () => {
    const asked: TriesFilter[] = [];
    const repos = { dashboard: { tries: async (f: TriesFilter) => (asked.push(f), { items: [], total: 0 }) } } as unknown as Repositories;
    const adapter = new TaskQueueAdapter('default', repos, null);
    await adapter.getJobs(['waiting'], 0, 999_999_999);
    await adapter.getJobs(['failed'], 20, 29);
    expect(asked.map((f) => [f.offset, f.limit])).toEqual([[0, MAX_JOBS_PER_PAGE], [20, 10]]);
  });
});
