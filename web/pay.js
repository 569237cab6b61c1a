// pay.js: holding seats (API.md 11, 13) with the time left, and paying them (14) with an
// Idempotency-Key that a retry after a lost answer reuses.
import { api, newKey, ApiError } from './api.js';

export async function hold(token, scheduleId, seatNo) {
  const r = await api('POST', '/api/v1/reservations', { token, body: { scheduleId, seatNo } });
  return r.body;
}

export async function release(token, reservationId) {
  await api('DELETE', `/api/v1/reservations/${reservationId}`, { token });
}

// Seconds left until iso (never below 0).
export function secondsLeft(iso, now = Date.now()) {
  return Math.max(0, Math.ceil((new Date(iso).getTime() - now) / 1000));
}

export function clock(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export class Payer {
  constructor() { this.pending = null; }

  // Pays the reservations ids. The same basket keeps its key until an answer comes: a
  // retry after no answer (or a 5xx) is the same payment, never a second one.
  async pay(token, ids) {
    const basket = [...ids].sort().join(',');
    if (!this.pending || this.pending.basket !== basket) this.pending = { basket, key: newKey() };
    try {
      const r = await api('POST', '/api/v1/payments',
        { token, key: this.pending.key, body: { reservationIds: ids } });
      this.pending = null;
      return r.body;
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0 && e.status < 500 &&
          e.code !== 'REQUEST_IN_PROGRESS' && e.code !== 'TOO_MANY_REQUESTS') {
        this.pending = null;  // refused for good: the next try is a new payment
      }
      throw e;
    }
  }

  get retrying() { return !!this.pending; }
}
