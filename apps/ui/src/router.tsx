// A small router over the History API: every view has a URL (deep links), back/forward work,
// and a plain click on a <Link> does not reload the page.
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

const NAVIGATE = 'sf:navigate';

export interface Location {
  pathname: string;
  search: URLSearchParams;
}

function current(): Location {
  return { pathname: window.location.pathname, search: new URLSearchParams(window.location.search) };
}

/** Goes to `to` (a path with an optional query) without reloading. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  // The history entry counts the in-app pages before it (`canGoBack`).
  if (options.replace) window.history.replaceState(window.history.state, '', to);
  else window.history.pushState({ sfDepth: inAppDepth() + 1 }, '', to);
  window.dispatchEvent(new Event(NAVIGATE));
}

function inAppDepth(): number {
  const state = window.history.state as { sfDepth?: number } | null;
  return typeof state?.sfDepth === 'number' ? state.sfDepth : 0;
}

/** True when the previous history entry is a page of this app (Back stays in it). */
export function canGoBack(): boolean {
  return inAppDepth() > 0;
}

/** The current location; re-renders on every navigation. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE, update);
    };
  }, []);
  return location;
}

/** Sets (or with `null`, removes) query parameters of the current URL, replacing the history entry. */
export function setQuery(values: Record<string, string | null | undefined>, options: { replace?: boolean } = { replace: true }): void {
  const search = new URLSearchParams(window.location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === '') search.delete(key);
    else search.set(key, value);
  }
  const query = search.toString();
  navigate(window.location.pathname + (query ? `?${query}` : ''), options);
}

export type Params = Record<string, string>;

export interface RouteDef {
  /** `/dags/:dagId/runs/:runId`; a trailing `/*` matches the rest (as param `*`). */
  path: string;
  render: (params: Params, location: Location) => ReactNode;
}

/** The params of `pathname` against `pattern`, or null when it does not match. */
export function matchPath(pattern: string, pathname: string): Params | null {
  const want = pattern.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean);
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const part = want[i]!;
    if (part === '*') {
      params['*'] = got.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const segment = got[i];
    if (segment === undefined) return null;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(segment);
    else if (part !== segment) return null;
  }
  return got.length === want.length ? params : null;
}

/** Renders the first route that matches the location, else `fallback`. */
export function Routes({ routes, location, fallback }: { routes: RouteDef[]; location: Location; fallback: ReactNode }) {
  for (const route of routes) {
    const params = matchPath(route.path, location.pathname);
    if (params) return <>{route.render(params, location)}</>;
  }
  return <>{fallback}</>;
}

/** Builds a path from segments, each URL-encoded: `path('dags', dagId, 'runs', runId)`. */
export function path(...segments: (string | number)[]): string {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

/** An <a> whose plain left click navigates in the page (middle/ctrl/cmd click opens a tab as usual). */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const click = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={click} {...rest} />;
}
