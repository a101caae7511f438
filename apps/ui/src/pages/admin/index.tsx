// Owned by helper "ui-live": variables, pools, users and tokens, the audit log. Placeholder until it lands.
import type { RouteDef } from '../../router';
import { PageTitle, Empty } from '../../components/common';

function AdminPage() {
  return (
    <>
      <PageTitle>Admin</PageTitle>
      <Empty>Variables, pools, users and tokens, and the audit log come here.</Empty>
    </>
  );
}

/** Routes under /admin. */
export const adminRoutes: RouteDef[] = [{ path: '/admin/*', render: () => <AdminPage /> }, { path: '/admin', render: () => <AdminPage /> }];
