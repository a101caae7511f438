// Runs across DAGs, newest first, with filters.
import { get } from '../../api';
import type { RunDto } from '../../api-types';
import { useCan } from '../../auth';
import { Empty, LoadError, Loading, PageTitle } from '../../components/common';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import { useLocation } from '../../router';
import { NoRunMatches, RunFilters, RunsTable, runsQuery } from './dag';

export function RunsPage() {
  const search = useLocation().search;
  const state = search.get('state') ?? '';
  const limit = search.get('limit') ?? '100';
  const q = search.get('q') ?? '';
  // The API filters (over all runs, not only the newest `limit`): a quiet DAG's runs are found too.
  const runs = useLoad(() => get<RunDto[]>(`/runs?${runsQuery({ state, limit, q })}`), [state, limit, q.trim()]);
  useEvents({ types: ['run'] }, useThrottled(runs.reload, 500));
  const shown = runs.data ?? [];
  const canTrigger = useCan('operator');
  return (
    <>
      <PageTitle>Runs</PageTitle>
      <RunFilters state={state} limit={limit} q={q} />
      <LoadError load={runs} what="list the runs" />
      {runs.data === undefined ? (runs.error ? null : <Loading />) : shown.length === 0 ? (
        state || q.trim() ? <NoRunMatches /> : <Empty>No runs yet.{canTrigger ? ' Trigger a DAG from its page.' : ' A scheduled or triggered run appears here as it starts.'}</Empty>
      ) : <RunsTable runs={shown} showDag />}
    </>
  );
}
