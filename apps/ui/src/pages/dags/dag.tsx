import { PageTitle } from '../../components/common';

export function DagPage({ dagId }: { dagId: string; tab: string }) {
  return <PageTitle>DAG {dagId}</PageTitle>;
}
