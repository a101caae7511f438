// Every view and its URL. Workers and admin pages own their routes (pages/workers, pages/admin).
import type { RouteDef } from './router';
import { adminRoutes } from './pages/admin';
import { workerRoutes } from './pages/workers';
import { DagListPage } from './pages/dags/dag-list';
import { ImportErrorsPage } from './pages/dags/import-errors';
import { DagPage } from './pages/dags/dag';
import { RunsPage } from './pages/dags/runs';
import { TaskPage } from './pages/dags/task';
import { TriggerPage } from './pages/dags/trigger';
import { RunPage } from './pages/dags/run';

export const ROUTES: RouteDef[] = [
  { path: '/dags', render: () => <DagListPage /> },
  { path: '/import-errors', render: () => <ImportErrorsPage /> },
  { path: '/dags/:dagId/trigger', render: (p) => <TriggerPage dagId={p.dagId!} /> },
  { path: '/dags/:dagId/runs/:runId/tasks/:taskId', render: (p, l) => <TaskPage dagId={p.dagId!} runId={p.runId!} taskId={p.taskId!} tryNumber={l.search.get('try')} /> },
  { path: '/dags/:dagId/runs/:runId', render: (p) => <RunPage dagId={p.dagId!} runId={p.runId!} /> },
  { path: '/dags/:dagId', render: (p, l) => <DagPage dagId={p.dagId!} tab={l.search.get('tab') ?? 'grid'} /> },
  { path: '/runs', render: () => <RunsPage /> },
  ...workerRoutes,
  ...adminRoutes,
];

/** Top navigation: label and where it goes (`external`: a page outside this app, e.g. bull-board). */
export const NAV: { label: string; to: string; match: string; external?: boolean }[] = [
  { label: 'DAGs', to: '/dags', match: '/dags' },
  { label: 'Runs', to: '/runs', match: '/runs' },
  { label: 'Workers', to: '/workers', match: '/workers' },
  { label: 'Queues', to: '/queues', match: '/queues', external: true },
  { label: 'Admin', to: '/admin', match: '/admin' },
];
