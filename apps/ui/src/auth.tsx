// Who is logged in (GET /api/v1/auth/me) and what their role may do. Write buttons are hidden
// for roles that may not use them; the API refuses them anyway (403 naming the role needed).
import { createContext, useContext, type ReactNode } from 'react';
import type { MeDto, Role } from './api-types';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Session {
  me: MeDto;
  logout: () => void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ session, children }: { session: Session; children: ReactNode }) {
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <SessionProvider>');
  return session;
}

/** True when the current user's role is at least `role`. */
export function useCan(role: Role): boolean {
  return RANK[useSession().me.role] >= RANK[role];
}

/** Renders its children only for users whose role is at least `role`. */
export function Can({ role, children }: { role: Role; children: ReactNode }) {
  return useCan(role) ? <>{children}</> : null;
}
