import { PageTitle } from '../../components/common';

export function RunPage({ runId }: { dagId: string; runId: string }) {
  return <PageTitle>Run {runId}</PageTitle>;
}
