// Files of the DAGs folder that failed to import: file, line (in that file only, from the
// message), the module it imported when the error is in there, and the fix.
import { get } from '../../api';
import type { DagSummaryDto, ImportErrorDto } from '../../api-types';
import { Empty, LoadError, Loading, PageTitle } from '../../components/common';
import { Time } from '../../components/time';
import { useEvents } from '../../events';
import { useLoad, useThrottled } from '../../hooks';
import { Link, path, useLocation } from '../../router';
import { locate } from './import-error-location';

export function ImportErrorsPage() {
  const file = useLocation().search.get('file');
  const errors = useLoad(() => get<ImportErrorDto[]>('/import-errors'), []);
  const dags = useLoad(() => get<DagSummaryDto[]>('/dags'), []);
  // A file broken or fixed, a DAG added or removed: the server's `dag` events.
  const reload = useThrottled(() => {
    errors.reload();
    dags.reload();
  }, 1000);
  useEvents({ types: ['dag'] }, reload);
  const list = (errors.data ?? []).filter((e) => !file || e.fileloc === file);
  return (
    <>
      <div className="crumbs"><Link to="/dags">DAGs</Link> /</div>
      <PageTitle>Import errors</PageTitle>
      {file ? <p className="muted">Showing {file} only. <Link to="/import-errors">Show all</Link></p> : null}
      <LoadError load={errors} what="read the import errors" />
      <LoadError load={dags} what="list the DAGs (each card names the DAGs its file's last good version holds)" />
      {/* The fix names the DAGs the file's last good version holds: wait for both lists, so a card never says
          "it never imported" of a file whose DAGs are still loading. */}
      {errors.data === undefined || (dags.data === undefined && !dags.error) ? (errors.error ? null : <Loading />) : list.length === 0 ? (
        <Empty>No import errors: every DAG file imported.</Empty>
      ) : (
        list.map((e) => {
          const { line, elsewhere } = locate(e.message, e.fileloc);
          const affected = (dags.data ?? []).filter((d) => d.fileloc === e.fileloc);
          return (
            <section key={e.fileloc} className="card import-error" data-file={e.fileloc} style={{ marginBottom: 12 }}>
              <h2 style={{ fontSize: 15, margin: '0 0 6px' }}>
                ⚠ <code>{e.fileloc}</code>{line ? <span className="muted" data-testid="import-error-line"> line {line}</span> : null}
              </h2>
              {elsewhere ? (
                <p className="small" data-testid="import-error-elsewhere">
                  {line ? 'Thrown in' : 'The error is in'} a module this file imports: <code>{elsewhere.file}</code> line {elsewhere.line} (not a line of {e.fileloc}).
                </p>
              ) : null}
              <pre>{e.message}</pre>
              <p className="small" data-testid="import-error-fix">
                <strong>Fix:</strong> {elsewhere && !line ? <>correct <code>{elsewhere.file}</code>, which this file imports</> : 'correct the file'}; it is parsed again as soon as it is saved.
                {dags.data === undefined ? null : ' Until then'}
                {dags.data === undefined ? null : affected.length ? (
                  <> the last version that imported runs: {affected.map((d, i) => <span key={d.dagId}>{i ? ', ' : ''}<Link to={path('dags', d.dagId)}>{d.dagId}</Link></span>)}.</>
                ) : ' no DAG of this file is known (it never imported).'}
                {' '}Check it locally with <code>npx swarmflow dags errors</code>.
              </p>
              <div className="muted small">Seen <Time value={e.at} /></div>
            </section>
          );
        })
      )}
    </>
  );
}
