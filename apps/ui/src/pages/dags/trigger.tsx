// The trigger form, generated from the DAG's params: types, enums as selects, ranges,
// defaults, descriptions; a raw-JSON mode; the API's own validation messages on the field
// they name (`conf.epochs`); a logical-date picker. A conf may also carry keys that are no
// params (the API keeps them in the run's conf, for `{{ conf.<key> }}`): the form keeps them
// in a box of their own, so switching raw JSON → form → trigger loses none.
import { useMemo, useState, type FormEvent } from 'react';
import { ApiError, apiPath, get, post } from '../../api';
import type { DagDetailDto, ParamSpec, RunDto } from '../../api-types';
import { ErrorBox, LoadError, Loading, PageTitle } from '../../components/common';
import { useCan, useSession } from '../../auth';
import { useLoad } from '../../hooks';
import { Link, navigate, path } from '../../router';
import { elsewhereThan } from './dag';
import { formFieldMessage } from './param-message';

type Values = Record<string, string | boolean>;

function initialValue(spec: ParamSpec): string | boolean {
  if (spec.type === 'boolean') return spec.default === true;
  if (spec.default === undefined || spec.default === null) return '';
  if (spec.type === 'array' || spec.type === 'object') return JSON.stringify(spec.default);
  return String(spec.default);
}

/** Form values → conf. A value that does not parse is sent as typed, so the API names the field and says why. */
function toConf(params: Record<string, ParamSpec>, values: Values): Record<string, unknown> {
  const conf: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(params)) {
    const v = values[name];
    if (v === undefined || v === '') continue;
    if (spec.type === 'boolean') conf[name] = v === true;
    else if (spec.type === 'integer' || spec.type === 'number') conf[name] = typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
    else if (spec.type === 'array' || spec.type === 'object') {
      try {
        conf[name] = JSON.parse(String(v));
      } catch {
        conf[name] = v;
      }
    } else if (spec.enum && typeof v === 'string') {
      // An enum of numbers or booleans: send the value of the option picked, not its text.
      conf[name] = spec.enum.find((e) => String(e) === v) ?? v;
    } else conf[name] = v;
  }
  return conf;
}

function fromConf(params: Record<string, ParamSpec>, conf: Record<string, unknown>): Values {
  const values: Values = {};
  for (const [name, spec] of Object.entries(params)) {
    const v = conf[name];
    if (v === undefined) values[name] = spec.type === 'boolean' ? false : '';
    else if (spec.type === 'boolean') values[name] = v === true;
    else values[name] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return values;
}

/** The conf's keys that are no params, as the "other conf keys" box shows them ('' when none). */
function extraOf(params: Record<string, ParamSpec>, conf: Record<string, unknown>): string {
  const extra = Object.fromEntries(Object.entries(conf).filter(([key]) => !Object.hasOwn(params, key)));
  return Object.keys(extra).length ? JSON.stringify(extra, null, 2) : '';
}

/** The "other conf keys" box → an object; throws, saying why, when it is no JSON object or holds a param. */
function parseExtra(params: Record<string, ParamSpec>, text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`Other conf keys: not valid JSON: ${(err as Error).message}.`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('Other conf keys: must be a JSON object, e.g. {"label": "nightly"}.');
  const clashing = Object.keys(parsed).filter((key) => Object.hasOwn(params, key));
  if (clashing.length) throw new Error(`Other conf keys: ${clashing.map((k) => `"${k}"`).join(', ')} ${clashing.length > 1 ? 'are params' : 'is a param'}: set ${clashing.length > 1 ? 'them in their fields' : 'it in its field'} above.`);
  return parsed as Record<string, unknown>;
}

/**
 * The API's refusal worded for this page, when the API gave its problem and fix apart: without
 * a CLI command or, in the form, an example of a JSON body. In raw JSON mode the user writes
 * the body, so a conf error keeps the API's message, example and all. A conf error about no
 * param field is about a key of the "other conf keys" box.
 */
function forPage(error: ApiError, raw: boolean): ApiError {
  if (!error.problem || !error.hint) return error;
  let message = `${error.problem}. Fix: ${error.hint}.`;
  if (error.reason === 'invalid_conf') {
    if (raw || !error.field?.startsWith('conf.')) return error;
    message = `Other conf keys: "${error.field.slice(5)}" ${message}`;
  }
  return new ApiError(error.status, error.reason, message, error.field, error);
}

/** `2026-12-06T09:30` in the user's zone → ISO (UTC). */
function localToIso(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

export function TriggerPage({ dagId }: { dagId: string }) {
  const dag = useLoad(() => get<DagDetailDto>(apiPath('dags', dagId)), [dagId]);
  const { me } = useSession();
  const canTrigger = useCan('operator');
  return (
    <>
      <div className="crumbs"><Link to="/dags">DAGs</Link> / <Link to={path('dags', dagId)}>{dagId}</Link> /</div>
      <PageTitle>Trigger {dagId}</PageTitle>
      <LoadError load={dag} what={`load DAG ${dagId}`} elsewhere={elsewhereThan(dag.error, dagId)} />
      {!canTrigger ? (
        // A deep link from someone else: no form to fill that the API would refuse.
        <div className="empty" data-testid="trigger-not-allowed">
          Triggering a run needs the role operator or admin; you are {me.role}. <Link to={path('dags', dagId)}>See {dagId}</Link>
        </div>
      ) : dag.data ? <TriggerForm dag={dag.data} /> : dag.error ? null : <Loading />}
    </>
  );
}

function TriggerForm({ dag }: { dag: DagDetailDto }) {
  const params = dag.params;
  const names = Object.keys(params);
  const [values, setValues] = useState<Values>(() => Object.fromEntries(names.map((n) => [n, initialValue(params[n]!)])));
  const [raw, setRaw] = useState(false);
  const [json, setJson] = useState('');
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [extra, setExtra] = useState('');
  const [logicalDate, setLogicalDate] = useState('');
  const [runId, setRunId] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const conf = useMemo(() => toConf(params, values), [params, values]);

  const switchMode = (toRaw: boolean) => {
    if (toRaw === raw) return;
    if (toRaw) {
      // The form's values and the other keys, together: the whole conf the trigger would send.
      try {
        setJson(JSON.stringify({ ...parseExtra(params, extra), ...conf }, null, 2));
        setJsonError(null);
      } catch (err) {
        setJsonError(`${(err as Error).message} Fix it to switch to raw JSON.`);
        return;
      }
    } else {
      try {
        const parsed = JSON.parse(json || '{}') as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('conf must be a JSON object');
        setValues(fromConf(params, parsed as Record<string, unknown>));
        setExtra(extraOf(params, parsed as Record<string, unknown>));
        setJsonError(null);
      } catch (err) {
        setJsonError(`Not valid JSON: ${(err as Error).message}. Fix it to switch back to the form.`);
        return;
      }
    }
    setRaw(toRaw);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    let body: Record<string, unknown>;
    if (raw) {
      try {
        body = { conf: JSON.parse(json || '{}') as unknown };
        setJsonError(null);
      } catch (err) {
        setJsonError(`Not valid JSON: ${(err as Error).message}`);
        return;
      }
    } else {
      try {
        body = { conf: { ...parseExtra(params, extra), ...conf } };
        setJsonError(null);
      } catch (err) {
        setJsonError((err as Error).message);
        return;
      }
    }
    const iso = localToIso(logicalDate);
    if (iso) body.logicalDate = iso;
    if (runId.trim()) body.runId = runId.trim();
    setBusy(true);
    try {
      const run = await post<RunDto>(apiPath('dags', dag.dagId, 'runs'), body);
      navigate(`${path('dags', dag.dagId)}?tab=grid&triggered=${encodeURIComponent(run.runId)}`);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  // The API words a conf error's fix for a JSON body (`e.g. the body {"conf": …}`): right in raw
  // JSON mode, not under a form's field, which shows the problem and the fix without the
  // example, for a field one fills in (older servers: the message).
  const fieldError = (name: string) => (error?.field === `conf.${name}` ? formFieldMessage(error) : null);
  const formError = error && !(error.field?.startsWith('conf.') && !raw && names.includes(error.field.slice(5))) ? forPage(error, raw) : null;

  return (
    <form onSubmit={submit} className="card trigger-form" aria-label="Trigger" noValidate style={{ maxWidth: 720 }}>
      {dag.isPaused ? <div className="warn-box">This DAG is paused: the run is created but waits (queued) until it is unpaused.</div> : null}
      <div className="toolbar">
        <strong>Params</strong>
        <span className="muted small">{names.length ? 'checked by the server against the DAG\'s params' : 'this DAG has none: conf is free JSON'}</span>
        <span style={{ marginLeft: 'auto' }} role="group" aria-label="Mode">
          <button type="button" aria-pressed={!raw} className={!raw ? 'primary' : undefined} onClick={() => switchMode(false)} disabled={names.length === 0}>Form</button>{' '}
          <button type="button" aria-pressed={raw} className={raw ? 'primary' : undefined} onClick={() => switchMode(true)}>Raw JSON</button>
        </span>
      </div>
      {raw || names.length === 0 ? (
        <label>
          conf (JSON)
          <textarea rows={10} value={raw ? json : '{}'} onChange={(e) => { setRaw(true); setJson(e.target.value); }} aria-label="conf JSON" spellCheck={false} />
        </label>
      ) : (
        <div className="param-fields">
          {names.map((name) => (
            <ParamField key={name} name={name} spec={params[name]!} value={values[name]!} error={fieldError(name)}
              onChange={(v) => {
                setValues((prev) => ({ ...prev, [name]: v }));
                // The API's error was about the old value: once it changes, the error no longer applies.
                setError((prev) => (prev?.field === `conf.${name}` ? null : prev));
              }} />
          ))}
          <div className="param-field" data-testid="extra-conf">
            <label htmlFor="extra-conf">Other conf keys</label>
            <textarea id="extra-conf" rows={extra ? Math.min(8, extra.split('\n').length) : 2} value={extra} onChange={(e) => setExtra(e.target.value)}
              placeholder='{"label": "nightly"}' spellCheck={false} />
            <div className="muted small">Optional JSON object of keys that are no params: kept in the run&apos;s conf, for <code>{'{{ conf.<key> }}'}</code> in the tasks.</div>
          </div>
        </div>
      )}
      {jsonError ? <div className="error-box" role="alert">{jsonError}</div> : null}
      <div className="toolbar" style={{ marginTop: 12 }}>
        <label>
          Logical date <span className="muted small">(your time zone; empty = now)</span>
          <input type="datetime-local" step={1} value={logicalDate} onChange={(e) => setLogicalDate(e.target.value)} aria-label="Logical date" />
        </label>
        <label>
          Run id <span className="muted small">(optional)</span>
          <input value={runId} onChange={(e) => setRunId(e.target.value)} placeholder="manual__<logical date>" aria-label="Run id" />
        </label>
      </div>
      {logicalDate ? <div className="muted small">= {localToIso(logicalDate)} UTC</div> : null}
      <ErrorBox error={formError} what="trigger" />
      <div className="toolbar" style={{ marginTop: 12 }}>
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Triggering…' : '▶ Trigger run'}</button>
        <Link to={path('dags', dag.dagId)} className="button">Cancel</Link>
      </div>
    </form>
  );
}

function ParamField({ name, spec, value, error, onChange }: { name: string; spec: ParamSpec; value: string | boolean; error: string | null; onChange: (v: string | boolean) => void }) {
  const id = `param-${name}`;
  const hints = [
    spec.type,
    spec.minimum !== undefined ? `min ${spec.minimum}` : null,
    spec.maximum !== undefined ? `max ${spec.maximum}` : null,
    spec.minLength !== undefined ? `≥ ${spec.minLength} chars` : null,
    spec.maxLength !== undefined ? `≤ ${spec.maxLength} chars` : null,
    spec.pattern ? `pattern /${spec.pattern}/` : null,
    spec.default !== undefined ? `default ${JSON.stringify(spec.default)}` : 'required',
  ].filter(Boolean).join(' · ');
  let input;
  if (spec.type === 'boolean') {
    input = <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (spec.enum) {
    input = (
      <select id={id} value={String(value)} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}>
        {spec.default === undefined ? <option value="">— choose —</option> : null}
        {spec.enum.map((v) => <option key={String(v)} value={String(v)}>{String(v)}</option>)}
      </select>
    );
  } else if (spec.type === 'integer' || spec.type === 'number') {
    input = (
      <input id={id} type="text" inputMode={spec.type === 'integer' ? 'numeric' : 'decimal'} value={String(value)} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}
        placeholder={spec.minimum !== undefined || spec.maximum !== undefined ? `${spec.minimum ?? '…'} – ${spec.maximum ?? '…'}` : undefined} />
    );
  } else if (spec.type === 'array' || spec.type === 'object') {
    input = <textarea id={id} rows={3} value={String(value)} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined} placeholder={spec.type === 'array' ? '[…]' : '{…}'} />;
  } else {
    input = <input id={id} type="text" value={String(value)} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined} />;
  }
  return (
    <div className="param-field" data-param={name}>
      <label htmlFor={id}><code>{name}</code></label>
      {input}
      <div className="muted small">{spec.description ? `${spec.description} — ` : ''}{hints}</div>
      {error ? <div className="field-error" role="alert">{error}</div> : null}
    </div>
  );
}
