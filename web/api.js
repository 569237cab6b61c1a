// api.js: the public API (API.md) over fetch, and every error of the contract as a sentence.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter, requestId) {
    super(message);
    this.status = status;          // 0: no answer came (the network, or the server went away)
    this.code = code;              // the contract's code, or NETWORK
    this.retryAfter = retryAfter;  // seconds, from Retry-After (0 when none)
    this.requestId = requestId;
  }
}

// A fresh Idempotency-Key: 32 hex characters (the contract allows 1-64 of [A-Za-z0-9_-]).
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Sends one request; resolves to {status, body, headers} for a 2xx, rejects with ApiError
// otherwise. opts: {body, token, key}.
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  let res;
  try {
    res = await fetch(path, {
      method, headers, cache: 'no-store',
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', 'no answer', 0, '');
  }
  const retryAfter = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
  let body = null;
  if (res.status !== 204) {
    try { body = await res.json(); } catch (e) { body = null; }
  }
  if (res.ok) return { status: res.status, body, headers: res.headers };
  const err = (body && body.error) || {};
  throw new ApiError(res.status, err.code || `HTTP_${res.status}`, err.message || '',
    retryAfter, err.requestId || res.headers.get('X-Request-Id') || '');
}

// What an error means to a fan, in one sentence; what (optional) names the thing tried.
export function explain(e, what = '') {
  if (!(e instanceof ApiError)) return `Something went wrong in this page: ${e.message}`;
  const again = e.retryAfter ? ` Try again in ${e.retryAfter} second${e.retryAfter === 1 ? '' : 's'}.` : '';
  switch (e.code) {
    case 'NETWORK':
      return 'We could not reach the ticket service. Check your connection and try again.';
    case 'INVALID_REQUEST':
      return `That request was not valid${e.message ? `: ${e.message}` : ''}.`;
    case 'TOKEN_MISSING':
      return 'You need a place in line first: join the line.';
    case 'TOKEN_INVALID':
      return 'Your place in line is no longer valid (it expired, was given back, or was used for a payment). Join the line again.';
    case 'TOKEN_NOT_ACTIVE':
      return 'You are still waiting in line; this opens once it is your turn.';
    case 'FORBIDDEN':
      return 'That belongs to another user.';
    case 'NOT_FOUND':
      return what ? `${what} was not found.` : 'That was not found.';
    case 'METHOD_NOT_ALLOWED':
      return 'The service does not allow that action here.';
    case 'SEAT_UNAVAILABLE':
      return `${what || 'That seat'} was just taken by someone else. Please pick another seat.`;
    case 'HOLD_LIMIT_REACHED':
      return 'You already hold the most seats one person may hold (4). Pay for them or let some go first.';
    case 'RESERVATION_ALREADY_PAID':
      return 'That reservation is already paid.';
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'This retry does not match the request it repeats; start the payment again.';
    case 'REQUEST_IN_PROGRESS':
      return 'Your earlier attempt is still being processed. Wait a moment, then try again.';
    case 'SALES_NOT_OPEN':
      return 'Sales for this date have not opened yet.';
    case 'RESERVATION_NOT_PAID':
      return 'Only a paid reservation can be refunded.';
    case 'REFUND_CLOSED':
      return 'Refunds for this date are closed: the show is too close.';
    case 'RESERVATION_EXPIRED':
      return 'Your hold ran out before the payment, so the seat was released. Hold it again if it is still free.';
    case 'PAYLOAD_TOO_LARGE':
      return 'That request was too large.';
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'The page sent something the service does not accept.';
    case 'INSUFFICIENT_BALANCE':
      return 'Your balance is too low for this payment. Add money below, then pay again.';
    case 'BALANCE_LIMIT_EXCEEDED':
      return 'That charge would take your balance over the maximum allowed.';
    case 'TOO_MANY_REQUESTS':
      return `Too many requests right now.${again || ' Try again in a moment.'}`;
    case 'SERVICE_UNAVAILABLE':
      return `The ticket service is busy or partly down.${again || ' Try again in a moment.'}`;
    case 'INTERNAL_ERROR':
      return `Something went wrong on our side (reference ${e.requestId || 'unknown'}). Try again.`;
    default:
      return `The service answered ${e.status}${e.message ? `: ${e.message}` : ''}.`;
  }
}

// "2026-12-24T19:00:00.000Z" as the fan's local date and time.
export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined,
    { dateStyle: 'medium', timeStyle: 'short' });
}

export function money(n) {
  return Number(n).toLocaleString();
}
