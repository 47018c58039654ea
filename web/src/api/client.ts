// The console talks to the server only through the public GraphQL API, with
// the signed-in user's token: the API's scope, masking and audit hold for it
// as for any client. The token lives in session storage (this tab only),
// never in a URL that reaches a log: a sign-in link carries it in the
// fragment, which browsers do not send.
import { createClient, type Client } from 'graphql-ws';

const KEY = 'anju.token';

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(t: string | null) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
  ws?.dispose();
  ws = null;
}

/** A token passed in the page's fragment (`#token=…`), moved to session
 * storage and removed from the address bar. */
export function takeTokenFromFragment(): boolean {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m) return false;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return true;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type GqlResponse<T> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };

/** One GraphQL operation with the session's token; an error of the answer
 * (or the transport) is thrown as an [`ApiError`] with its code. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const t = token();
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(t ? { Authorization: `Bearer ${t}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  let body: GqlResponse<T>;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`HTTP ${res.status}`, 'HTTP', res.status);
  }
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions?.code ?? 'ERROR', res.status);
  }
  if (!res.ok) throw new ApiError(`HTTP ${res.status}`, 'HTTP', res.status);
  return body.data as T;
}

let ws: Client | null = null;

/** The live connection (graphql-transport-ws), made on first use; its token
 * is sent at every (re)connection. */
export function live(): Client {
  if (!ws) {
    const proto = window.location.protocol === 'https:' ? 'wss' : 'ws';
    ws = createClient({
      url: `${proto}://${window.location.host}/graphql/ws`,
      lazy: true,
      retryAttempts: 5,
      connectionParams: () => ({ Authorization: `Bearer ${token() ?? ''}` }),
    });
  }
  return ws;
}

/** Subscribes; returns the function that ends it. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
  error?: (e: unknown) => void,
): () => void {
  return live().subscribe<T>(
    { query, variables },
    {
      next: (r) => r.data && next(r.data as T),
      error: (e) => error?.(e),
      complete: () => undefined,
    },
  );
}

/** Saves text as a file (exports: CSV, JSON, PNG data). */
export function download(name: string, data: BlobPart, type = 'text/plain;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
