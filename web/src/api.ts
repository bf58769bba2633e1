// The one place that talks to the server: JSON in and out, the access token, one refresh on 401.
import { noteServerDate } from './clock';
import { describeFieldError, hasKey, t } from './i18n';

export interface ErrorBody {
  code: string;
  message: string;
  status: number;
  errors?: { field: string; reason: string }[];
  conflictingSeats?: string[];
}

const codeOfStatus: Record<number, string> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL',
  502: 'SERVICE_UNAVAILABLE',
  503: 'SERVICE_UNAVAILABLE',
  504: 'SERVICE_UNAVAILABLE',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | null,
    readonly retryAfterSeconds: number | null,
  ) {
    super(body?.message ?? `HTTP ${status}`);
  }
  // The server's code; for an answer without one (a proxy's page, a test's stand-in) the code its
  // status usually carries, so the reader still gets a sentence in their language.
  get code(): string {
    return this.body?.code ?? codeOfStatus[this.status] ?? '';
  }
}

// Thrown when the access token is fine but the queue's admission token is not (lapsed, used).
export class QueueTokenError extends Error {}
// Thrown when there is no usable session: the caller sends the reader to sign in.
export class SignInRequired extends Error {}

const tokenKey = 'accessToken';
// Set in localStorage while this browser has a session (sign-in, sign-up, a refresh), cleared on
// sign-out and when a refresh is refused: a new tab asks /auth/refresh only when it is set, so a
// visitor who never signed in causes no 401 on every page load.
const signedInKey = 'signedIn';
export const session = {
  token(): string | null {
    return sessionStorage.getItem(tokenKey);
  },
  setToken(token: string): void {
    sessionStorage.setItem(tokenKey, token);
    localStorage.setItem(signedInKey, '1');
  },
  clear(): void {
    sessionStorage.removeItem(tokenKey);
  },
  // Whether the refresh cookie may hold a session worth asking for.
  maybeSignedIn(): boolean {
    return localStorage.getItem(signedInKey) === '1';
  },
  // Signed out (or the session ended): no token, and no refresh at the next page load.
  signedOut(): void {
    sessionStorage.removeItem(tokenKey);
    localStorage.removeItem(signedInKey);
  },
};

export interface CallOptions {
  method?: string;
  body?: unknown;
  auth?: boolean;
  queueToken?: string | null;
  idempotencyKey?: string;
  // A body sent as it is (e.g. a CSV file) with this Content-Type instead of JSON.
  rawBody?: string;
  contentType?: string;
}

async function send(path: string, options: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.rawBody !== undefined) headers['Content-Type'] = options.contentType ?? 'text/plain';
  const token = session.token();
  if (options.auth && token) headers.Authorization = `Bearer ${token}`;
  if (options.queueToken) headers['Queue-Token'] = options.queueToken;
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
  const sentAt = Date.now();
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    credentials: 'same-origin',
  });
  noteServerDate(response.headers.get('Date'), sentAt);
  return response;
}

let refreshing: Promise<boolean> | null = null;

async function refreshOnce(): Promise<boolean> {
  // Bounded: other tabs wait for this one's lock.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  try {
    const response = await fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin', signal: abort.signal });
    // Refused (unknown, expired, used or ended): no session to restore until the next sign-in.
    if (response.status === 401 || response.status === 403) session.signedOut();
    if (!response.ok) return false;
    const body = (await response.json()) as { accessToken: string };
    session.setToken(body.accessToken);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// The refresh token travels in an HttpOnly cookie (Path=/auth): the browser adds it, we never see it.
// Every tab shares that cookie and a refresh token is single use, so tabs refreshing at once (several
// opened together, each without an access token) would present one token twice — which the server
// takes for a stolen token and ends the session everywhere. One tab refreshes at a time (Web Locks;
// the next one then sends the cookie the first was given). Where the API is missing (not a secure
// context) it is as before.
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
      if (!locks) return await refreshOnce();
      let refreshed: boolean | undefined;
      try {
        refreshed = await locks.request('ticketing-auth-refresh', refreshOnce);
      } catch {
        // The lock itself refused (a sandboxed frame, say): refresh without it, as before.
      }
      return refreshed ?? (await refreshOnce());
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function toError(response: Response): Promise<ApiError> {
  let body: ErrorBody | null = null;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = null;
  }
  const retry = response.headers.get('Retry-After');
  return new ApiError(response.status, body, retry === null ? null : Number(retry));
}

export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  if (options.auth && !session.token() && !(session.maybeSignedIn() && (await refreshSession()))) throw new SignInRequired();
  let response = await send(path, options);
  if (response.status === 401 && options.auth) {
    const error = await toError(response);
    if (error.code === 'INVALID_CREDENTIALS') throw error;
    if (!(await refreshSession())) {
      session.clear();
      throw new SignInRequired();
    }
    response = await send(path, options);
    // Still 401 with a fresh access token: it is the queue token that was refused.
    if (response.status === 401 && options.queueToken) throw new QueueTokenError();
    if (response.status === 401) {
      session.clear();
      throw new SignInRequired();
    }
  }
  if (!response.ok) throw await toError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

// What the reader sees for a failed call, in their language.
export function describeError(error: unknown): string {
  if (error instanceof QueueTokenError) return t('errQueueToken');
  if (error instanceof SignInRequired) return t('errUNAUTHENTICATED');
  if (!(error instanceof ApiError)) return t('errNetwork');
  const body = error.body;
  switch (error.code) {
    case 'SEAT_ALREADY_HELD':
      return t('errSEAT_ALREADY_HELD', { seats: (body?.conflictingSeats ?? []).join(', ') });
    case 'HOLD_LIMIT_EXCEEDED': {
      const max = /at most (\d+)/.exec(body?.message ?? '')?.[1] ?? '4';
      return t('errHOLD_LIMIT_EXCEEDED', { max });
    }
    case 'TOO_MANY_REQUESTS': {
      // A lock of 15 minutes reads "15 min", not "893 s".
      const seconds = error.retryAfterSeconds ?? 1;
      const wait = seconds < 60 ? t('waitSeconds', { n: seconds }) : t('waitMinutes', { n: Math.ceil(seconds / 60) });
      return t('errTOO_MANY_REQUESTS', { wait });
    }
    case 'INVALID_ARGUMENT': {
      const fields = (body?.errors ?? []).map((e) => describeFieldError(e.field, e.reason)).join(', ');
      return fields ? t('errINVALID_ARGUMENT', { fields }) : t('errInvalidPlain');
    }
    default: {
      const key = `err${error.code}`;
      return hasKey(key) ? t(key) : t('errGeneric', { status: error.status });
    }
  }
}
