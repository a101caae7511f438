import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  /** Loads again (keeps the current data while it does). */
  reload: () => void;
}

/** Loads `load()` now and whenever `deps` change; `reload()` loads again. Late answers of older loads are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err instanceof ApiError ? err : new ApiError(0, 'client_error', String(err)));
        setLoading(false);
      },
    );
  }, []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => {
    setData(undefined);
    reload();
  }, deps);
  return { data, error, loading, reload };
}

/** Calls `fn` at most once per `ms` (trailing): coalesces bursts of live events into one reload. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const timer = useRef<number | null>(null);
  useEffect(() => () => {
    if (timer.current !== null) window.clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      fnRef.current();
    }, ms);
  }, [ms]);
}

const prefetched = new Map<string, Promise<unknown>>();

/**
 * Starts a GET now that a view further down will want (`takePrefetched` hands it over once):
 * the DAG page asks for its grid at the same time as for the DAG, not one after the other.
 */
export function prefetch(key: string, load: () => Promise<unknown>): void {
  if (prefetched.has(key)) return;
  const promise = load();
  promise.catch(() => undefined);
  prefetched.set(key, promise);
  window.setTimeout(() => prefetched.delete(key), 10_000);
}

/** The prefetched answer for `key`, once (later loads ask the API again). */
export function takePrefetched<T>(key: string): Promise<T> | undefined {
  const promise = prefetched.get(key);
  prefetched.delete(key);
  return promise as Promise<T> | undefined;
}
