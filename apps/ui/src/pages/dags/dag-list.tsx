import { PageTitle } from '../../components/common';

export function DagListPage() {
  return <PageTitle>DAGs</PageTitle>;
}
