import { PageTitle } from '../../components/common';

export function ImportErrorsPage() {
  return <PageTitle>Import errors</PageTitle>;
}
