// Runs across DAGs, newest first, with filters.
import { get } from '../../api';
import type { RunDto } from '../../api-types';
import { Empty, ErrorBox, Loading, PageTitle } from '../../components/common';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import { useLocation } from '../../router';
import { RunFilters, RunsTable } from './dag';

export function RunsPage() {
  const search = useLocation().search;
  const state = search.get('state') ?? '';
  const limit = search.get('limit') ?? '100';
  const q = search.get('q') ?? '';
  const runs = useLoad(() => get<RunDto[]>(`/runs?limit=${limit}${state ? `&state=${state}` : ''}`), [state, limit]);
  useEvents({ types: ['run'] }, useThrottled(runs.reload, 500));
  const shown = (runs.data ?? []).filter((r) => !q || r.runId.includes(q) || r.dagId.includes(q) || r.runType.includes(q));
  return (
    <>
      <PageTitle>Runs</PageTitle>
      <RunFilters state={state} limit={limit} q={q} />
      <ErrorBox error={runs.error} what="list the runs" />
      {runs.data === undefined ? (runs.error ? null : <Loading />) : shown.length === 0 ? (
        <Empty>No runs match. Trigger a DAG from its page.</Empty>
      ) : <RunsTable runs={shown} showDag />}
    </>
  );
}
