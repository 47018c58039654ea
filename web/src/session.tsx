// Who is signed in: the token's `me`, read once; the role decides the menu
// (the server decides what each request may do — the menu only spares a
// user the screens their role would be refused).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { gql, setToken, token, takeTokenFromFragment } from './api/client';

export type Role = 'OFFICER' | 'ANALYST' | 'COMMANDER' | 'DASHBOARD' | 'BATCH' | 'ADMIN' | 'DEVICE';

export interface Me {
  name: string;
  role: Role;
  regions: string[];
  seesIdentifiers: boolean;
}

interface Session {
  me: Me | null;
  ready: boolean;
  signIn: (t: string) => Promise<boolean>;
  signOut: () => void;
}

const Ctx = createContext<Session | null>(null);

const ME = `{ me { name role regions seesIdentifiers } }`;

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const load = useCallback(async () => {
    if (!token()) {
      setMe(null);
      return false;
    }
    try {
      const d = await gql<{ me: Me }>(ME);
      setMe(d.me);
      return true;
    } catch {
      setToken(null);
      setMe(null);
      return false;
    }
  }, []);
  useEffect(() => {
    takeTokenFromFragment();
    load().finally(() => setReady(true));
  }, [load]);
  const signIn = useCallback(
    async (t: string) => {
      setToken(t.trim());
      return load();
    },
    [load],
  );
  const signOut = useCallback(() => {
    setToken(null);
    setMe(null);
  }, []);
  return <Ctx.Provider value={{ me, ready, signIn, signOut }}>{children}</Ctx.Provider>;
}

export function useSession(): Session {
  const c = useContext(Ctx);
  if (!c) throw new Error('useSession outside <SessionProvider>');
  return c;
}

/** The screens a role may use (the role table of the API, seen from the menu). */
export function screensOf(role: Role): string[] {
  switch (role) {
    case 'ADMIN':
      return ['search', 'graph', 'map', 'alerts', 'watchLists', 'dashboard', 'investigations', 'admin', 'playground'];
    case 'COMMANDER':
    case 'OFFICER':
    case 'ANALYST':
      return ['search', 'graph', 'map', 'alerts', 'watchLists', 'dashboard', 'investigations', 'playground'];
    case 'BATCH':
      return ['alerts', 'dashboard', 'playground'];
    case 'DASHBOARD':
      return ['dashboard'];
    default:
      return [];
  }
}

/** Whether the role may sign and handle alerts, write watch lists, merge,
 * decide grants. */
export const may = {
  alertWork: (r: Role) => r === 'OFFICER' || r === 'COMMANDER' || r === 'ADMIN',
  watchWrite: (r: Role) => r === 'OFFICER' || r === 'COMMANDER' || r === 'ADMIN',
  merge: (r: Role) => r === 'COMMANDER' || r === 'ADMIN',
  decideGrants: (r: Role) => r === 'COMMANDER' || r === 'ADMIN',
  requestGrants: (r: Role) => r === 'OFFICER' || r === 'ANALYST' || r === 'ADMIN',
};
