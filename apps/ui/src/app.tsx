import { useCallback, useEffect, useState } from 'react';
import { ApiError, get, post, setCsrfToken, UNAUTHENTICATED } from './api';
import type { MeDto } from './api-types';
import { SessionProvider } from './auth';
import { Empty, ErrorBox, Loading } from './components/common';
import { ShortcutsHelp } from './components/shortcuts';
import { useConnectionState } from './events';
import { isServerPage, safeNextPath } from './next-path';
import { LoginPage } from './pages/login';
import { Link, navigate, Routes, useLocation } from './router';
import { NAV, ROUTES } from './routes';
import { applyTheme, storedTheme, type Theme } from './theme';

type Auth = { status: 'loading' } | { status: 'out' } | { status: 'in'; me: MeDto } | { status: 'error'; error: ApiError };

export function App() {
  const [auth, setAuth] = useState<Auth>({ status: 'loading' });
  const location = useLocation();

  const loadMe = useCallback(() => {
    get<MeDto>('/auth/me').then(
      (me) => {
        setCsrfToken(me.csrfToken);
        setAuth({ status: 'in', me });
      },
      (err: ApiError) => setAuth(err.status === 401 ? { status: 'out' } : { status: 'error', error: err }),
    );
  }, []);
  useEffect(loadMe, [loadMe]);
  useEffect(() => {
    const out = () => setAuth({ status: 'out' });
    window.addEventListener(UNAUTHENTICATED, out);
    return () => window.removeEventListener(UNAUTHENTICATED, out);
  }, []);
  // Logged in on `/` or `/login`: on to `?next=` when it is a path of this site (bull-board's
  // redirect, a deep link), else the DAGs.
  const next = location.search.get('next');
  useEffect(() => {
    if (auth.status !== 'in' || (location.pathname !== '/' && location.pathname !== '/login')) return;
    const to = safeNextPath(next);
    if (to && isServerPage(to)) window.location.replace(to);
    else navigate(to ?? '/dags', { replace: true });
  }, [location.pathname, auth.status, next]);

  if (auth.status === 'loading') return <Loading />;
  if (auth.status === 'error') return <main className="content"><ErrorBox error={auth.error} what="reach the API" /></main>;
  if (auth.status === 'out') return <LoginPage onLogin={(me) => setAuth({ status: 'in', me })} />;

  const logout = () => {
    post('/auth/logout').finally(() => {
      setCsrfToken(null);
      setAuth({ status: 'out' });
    });
  };
  return (
    <SessionProvider session={{ me: auth.me, logout }}>
      <Shell me={auth.me} logout={logout} pathname={location.pathname}>
        <Routes routes={ROUTES} location={location} fallback={<NotFound />} />
      </Shell>
    </SessionProvider>
  );
}

function NotFound() {
  return (
    <Empty>
      No page at this address. <Link to="/dags">Go to the DAGs</Link>.
    </Empty>
  );
}

function Shell({ me, logout, pathname, children }: { me: MeDto; logout: () => void; pathname: string; children: React.ReactNode }) {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const connection = useConnectionState();
  const cycleTheme = () => {
    const next: Theme = theme === 'system' ? 'dark' : theme === 'dark' ? 'light' : 'system';
    applyTheme(next);
    setTheme(next);
  };
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/dags" className="brand">
          <span className="logo" aria-hidden="true">⬡</span> Swarmflow
        </Link>
        <nav aria-label="Main">
          {NAV.map((item) => {
            const active = pathname === item.match || pathname.startsWith(item.match + '/');
            return item.external ? (
              <a key={item.label} href={item.to} className={active ? 'active' : undefined}>{item.label}</a>
            ) : (
              <Link key={item.label} to={item.to} className={active ? 'active' : undefined} aria-current={active ? 'page' : undefined}>
                {item.label}
              </Link>
            );
          })}
        </nav>
        <div className="topbar-right">
          {/* A page with nothing live (a form, the admin pages) shows no indicator, not a red "offline". */}
          {connection === 'idle' ? null : (
            <span className={`live live-${connection}`} title={`live updates: ${connection}`}>
              <span aria-hidden="true">●</span> {connection === 'open' ? 'live' : connection === 'connecting' ? 'connecting' : 'offline'}
            </span>
          )}
          <button type="button" className="ghost" onClick={cycleTheme} title="Theme: system, dark or light" aria-label={`Theme: ${theme}`}>
            {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'}
          </button>
          <ShortcutsHelp />
          <span className="user" data-testid="current-user">
            {me.name} <span className="role">{me.role}</span>
          </span>
          <button type="button" className="ghost" onClick={logout}>Log out</button>
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>{children}</main>
    </>
  );
}
