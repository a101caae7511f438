import { PageTitle } from '../../components/common';

export function RunsPage() {
  return <PageTitle>Runs</PageTitle>;
}
