// Where to go after logging in: `/login?next=/queues` (bull-board sends there) or any deep
// link. Only a path of this site is followed: `//evil.example`, `http://…`, `javascript:…`,
// backslash tricks and control characters are refused (an open redirect otherwise).

/** `raw` as a same-origin path (`/dags/x?tab=graph`), or null when it is not one. */
export function safeNextPath(raw: string | null | undefined, origin: string = window.location.origin): string | null {
  if (!raw || raw.length > 2000) return null;
  // A relative path only: one leading slash, no scheme, no authority (`//host`, `/\host`).
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin || url.pathname.startsWith('//')) return null;
  // Back to the login page would loop.
  if (url.pathname === '/login') return null;
  return url.pathname + url.search + url.hash;
}

/** Pages the webserver serves itself (not this app's router): reached with a page load. */
export function isServerPage(pathname: string): boolean {
  return /^\/(queues|api|metrics)(\/|$|\?)/.test(pathname);
}
