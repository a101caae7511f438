// A try's log, live while it runs: server-sent events from
// GET /api/v1/dags/:dag/runs/:run/tasks/:task/logs/stream (lines, then end). Not polling.
import { useEffect, useRef, useState } from 'react';
import { API, apiPath } from '../api';
import type { LogLineDto } from '../api-types';
import { formatUtc } from './time';

type Status = 'connecting' | 'live' | 'ended' | 'error';

export function LogView({ dagId, runId, taskId, tryNumber }: { dagId: string; runId: string; taskId: string; tryNumber: number }) {
  const [lines, setLines] = useState<LogLineDto[]>([]);
  const [status, setStatus] = useState<Status>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    setLines([]);
    setStatus('connecting');
    setError(null);
    const url = `${API}${apiPath('dags', dagId, 'runs', runId, 'tasks', taskId, 'logs', 'stream')}?try=${tryNumber}`;
    const es = new EventSource(url, { withCredentials: true });
    let ended = false;
    es.onopen = () => !ended && setStatus('live');
    es.addEventListener('lines', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { lines: LogLineDto[] };
      setLines((prev) => prev.concat(data.lines));
    });
    es.addEventListener('end', () => {
      ended = true;
      setStatus('ended');
      es.close();
    });
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent<string>).data;
      if (data) {
        setError((JSON.parse(data) as { message: string }).message);
        setStatus('error');
        es.close();
      } else if (es.readyState === EventSource.CLOSED && !ended) {
        setStatus('error');
        setError('the log stream closed: reload to try again');
      }
    });
    return () => es.close();
  }, [dagId, runId, taskId, tryNumber]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  return (
    <div className="log-view">
      <div className="toolbar small">
        <span className={`log-status log-${status}`} data-testid="log-status">
          {status === 'live' ? '● live' : status === 'ended' ? '■ try finished' : status === 'connecting' ? '… connecting' : '⚠ error'}
        </span>
        <span className="muted">{lines.length} line{lines.length === 1 ? '' : 's'}</span>
        <label className="inline"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow</label>
        <a className="button" href={`${API}${apiPath('dags', dagId, 'runs', runId, 'tasks', taskId, 'logs')}?try=${tryNumber}`} target="_blank" rel="noreferrer">JSON</a>
      </div>
      {error ? <div className="error-box" role="alert">{error}</div> : null}
      <pre ref={box} className="log" data-testid="log" tabIndex={0} aria-label="Log" aria-live="polite">
        {lines.length === 0 ? <span className="muted">{status === 'ended' ? 'This try wrote nothing.' : 'No output yet…'}</span> : null}
        {lines.map((l, i) => (
          <div key={i} className={`log-line log-${l.stream}`}>
            <span className="log-at" title={formatUtc(l.at)}>{new Date(l.at).toLocaleTimeString()}</span> {l.line}
          </div>
        ))}
      </pre>
    </div>
  );
}
