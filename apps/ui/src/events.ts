// Live updates over server-sent events (GET /api/v1/events, served by the webserver). One
// EventSource for the whole page, shared by every subscriber; it reconnects by itself (the
// browser's EventSource retries; when it gives up, e.g. after a webserver restart answered
// with an error, we open a new one with backoff).
//
// Events (named, JSON data): `ti` (a task instance changed: dagId, runId, taskId, state,
// tryNumber…), `run` (a DAG run changed: dagId, runId, state), `worker` (a worker changed:
// name, state…), `dag` (a DAG was added, changed, removed, paused or unpaused: dagId; or, with
// dagId null, the import errors changed), `resync` (reload what you show); contract: libs/contracts/src/events.ts (ui-live).
// Subscribers filter by dagId / runId on the client.
import { useEffect, useRef, useState } from 'react';

export type LiveEventType = 'ti' | 'run' | 'worker' | 'dag' | 'log' | (string & {});

export interface LiveEvent {
  type: LiveEventType;
  data: Record<string, unknown>;
}

export interface EventFilter {
  types?: LiveEventType[];
  dagId?: string;
  runId?: string;
}

type Listener = (event: LiveEvent) => void;
/** `idle`: no view asks for live events (nothing is open, none is missed); `closed`: one asks, and the stream is down. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'closed';

const KNOWN: LiveEventType[] = ['ti', 'run', 'worker', 'dag', 'hello', 'resync'];
const listeners = new Set<Listener>();
const stateListeners = new Set<(s: ConnectionState) => void>();
let source: EventSource | null = null;
let state: ConnectionState = 'idle';
let retryMs = 500;
let retryTimer: number | null = null;

function setState(next: ConnectionState): void {
  state = next;
  for (const l of stateListeners) l(next);
}

function dispatch(type: string, raw: string): void {
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
  } catch {
    return;
  }
  const event = { type, data };
  for (const l of listeners) l(event);
}

function open(): void {
  if (source || listeners.size === 0) return;
  setState('connecting');
  const es = new EventSource('/api/v1/events', { withCredentials: true });
  source = es;
  es.onopen = () => {
    retryMs = 500;
    setState('open');
    // After a (re)connect, whatever changed meanwhile is unknown: subscribers reload.
    dispatch('resync', '{}');
  };
  for (const type of KNOWN) es.addEventListener(type, (e) => dispatch(type, (e as MessageEvent<string>).data));
  es.onmessage = (e) => dispatch('message', e.data as string);
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      source = null;
      setState('closed');
      if (retryTimer === null && listeners.size > 0) {
        retryTimer = window.setTimeout(() => {
          retryTimer = null;
          open();
        }, retryMs);
        retryMs = Math.min(retryMs * 2, 10_000);
      }
    } else {
      setState('connecting');
    }
  };
}

function close(): void {
  if (listeners.size > 0) return;
  source?.close();
  source = null;
  if (retryTimer !== null) window.clearTimeout(retryTimer);
  retryTimer = null;
  setState('idle');
}

function matches(filter: EventFilter, event: LiveEvent): boolean {
  if (event.type === 'resync') return true;
  if (filter.types && !filter.types.includes(event.type)) return false;
  if (filter.dagId !== undefined && event.data.dagId !== undefined && event.data.dagId !== filter.dagId) return false;
  if (filter.runId !== undefined && event.data.runId !== undefined && event.data.runId !== filter.runId) return false;
  return true;
}

/**
 * Calls `onEvent` for each live event matching `filter` (and with type `resync` after every
 * (re)connect: reload what you show). Pass `null` to subscribe to nothing.
 */
export function useEvents(filter: EventFilter | null, onEvent: (event: LiveEvent) => void): ConnectionState {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [connection, setConnection] = useState<ConnectionState>(state);
  const key = filter ? JSON.stringify(filter) : null;
  useEffect(() => {
    if (key === null) return;
    const f = JSON.parse(key) as EventFilter;
    const listener: Listener = (event) => {
      if (matches(f, event)) handler.current(event);
    };
    listeners.add(listener);
    stateListeners.add(setConnection);
    open();
    setConnection(state);
    return () => {
      listeners.delete(listener);
      stateListeners.delete(setConnection);
      close();
    };
  }, [key]);
  return connection;
}

/** The live connection's state, for an indicator. */
export function useConnectionState(): ConnectionState {
  const [connection, setConnection] = useState<ConnectionState>(state);
  useEffect(() => {
    stateListeners.add(setConnection);
    return () => {
      stateListeners.delete(setConnection);
    };
  }, []);
  return connection;
}
