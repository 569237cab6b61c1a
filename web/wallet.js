// wallet.js: the user, the balance and charging it, and the history (API.md 1-4, 15).
import { api, newKey, ApiError } from './api.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function createUser() {
  const r = await api('POST', '/api/v1/users', { body: {} });
  return r.body.userId;
}

// Checks an id typed in: well formed and known. Returns it (lower case) or throws.
export async function checkUser(id) {
  const u = id.trim().toLowerCase();
  if (!UUID.test(u)) {
    throw new ApiError(400, 'INVALID_REQUEST', 'a user id looks like 0190f8e0-1234-7abc-8def-0123456789ab', 0, '');
  }
  await api('GET', `/api/v1/users/${u}/balance`);
  return u;
}

export async function balance(userId) {
  const r = await api('GET', `/api/v1/users/${userId}/balance`);
  return r.body.balance;
}

// A charge keeps its Idempotency-Key until it gets an answer, so a retry after a lost answer
// cannot charge twice; a new amount is a new charge.
export class Charger {
  constructor() { this.pending = null; }

  async charge(userId, amount) {
    if (!this.pending || this.pending.amount !== amount || this.pending.userId !== userId) {
      this.pending = { userId, amount, key: newKey() };
    }
    try {
      const r = await api('POST', `/api/v1/users/${userId}/balance/charge`,
        { body: { amount }, key: this.pending.key });
      this.pending = null;
      return r.body.balance;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 0 || e.status >= 500) throw e;  // may retry
      this.pending = null;  // a refusal was recorded: the next try is a new charge
      throw e;
    }
  }
}

export async function payments(userId) {
  const r = await api('GET', `/api/v1/users/${userId}/payments`);
  return r.body.payments;
}

export async function entries(userId) {
  const r = await api('GET', `/api/v1/users/${userId}/balance/history?limit=20`);
  return r.body.entries;
}
