import { PageTitle } from '../../components/common';

export function TaskPage({ taskId }: { dagId: string; runId: string; taskId: string; tryNumber: string | null }) {
  return <PageTitle>Task {taskId}</PageTitle>;
}
