// Owned by helper "ui-live": the Flower-like workers dashboard. Placeholder until it lands.
import type { RouteDef } from '../../router';
import { PageTitle, Empty } from '../../components/common';

function WorkersPage() {
  return (
    <>
      <PageTitle>Workers</PageTitle>
      <Empty>The workers dashboard comes here.</Empty>
    </>
  );
}

/** Routes under /workers (deep links of the dashboard). */
export const workerRoutes: RouteDef[] = [{ path: '/workers/*', render: () => <WorkersPage /> }, { path: '/workers', render: () => <WorkersPage /> }];
