import { PageTitle } from '../../components/common';

export function TriggerPage({ dagId }: { dagId: string }) {
  return <PageTitle>Trigger {dagId}</PageTitle>;
}
