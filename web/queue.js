// queue.js: a place in line: join, then poll until ACTIVE, honouring Retry-After and the
// service's own estimate (API.md 5-7). Works the same in both queue modes.
import { api, ApiError } from './api.js';

export class Line {
  // onChange(ticket) after every answer; onError(e) for an error that ends the wait.
  constructor(onChange, onError) {
    this.onChange = onChange;
    this.onError = onError;
    this.ticket = null;
    this.timer = 0;
    this.firstPosition = 0;
  }

  get token() { return this.ticket ? this.ticket.token : ''; }
  get active() { return !!this.ticket && this.ticket.status === 'ACTIVE'; }

  async join(userId) {
    this.stop();
    const r = await this.retrying(() => api('POST', '/api/v1/queue/tokens', { body: { userId } }));
    this.firstPosition = r.body.position || 0;
    this.update(r.body);
  }

  // Retries what the service says to retry (429, 503) after its Retry-After, a few times.
  async retrying(fn) {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        const again = e instanceof ApiError &&
          (e.code === 'TOO_MANY_REQUESTS' || e.code === 'SERVICE_UNAVAILABLE') && i < 5;
        if (!again) throw e;
        await new Promise((ok) => setTimeout(ok, Math.max(1, e.retryAfter || 1) * 1000));
      }
    }
  }

  update(t) {
    this.ticket = t;
    this.onChange(t);
    if (t.status !== 'ACTIVE') this.schedule(this.nextPoll(t));
  }

  // Seconds to the next poll: a quarter of the estimated wait, between 1 and 5 s, so that
  // the place is shown moving and the default mode's idle limit (60 s) is never reached.
  nextPoll(t) {
    return Math.min(5, Math.max(1, Math.ceil((t.estimatedWaitSeconds || 1) / 4)));
  }

  schedule(seconds) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), seconds * 1000);
  }

  async poll() {
    try {
      const r = await api('GET', '/api/v1/queue/tokens/current', { token: this.token });
      this.update(r.body);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 'TOO_MANY_REQUESTS' ||
          e.code === 'SERVICE_UNAVAILABLE' || e.code === 'NETWORK')) {
        this.schedule(Math.max(1, e.retryAfter || 2));  // keep the place: try again
        return;
      }
      this.ticket = null;
      this.onError(e);
    }
  }

  async leave() {
    const token = this.token;
    this.stop();
    this.ticket = null;
    if (token) await api('DELETE', '/api/v1/queue/tokens/current', { token });
  }

  // The token was used by a payment: it passes no gate any more.
  spent() {
    this.stop();
    this.ticket = null;
  }

  stop() { clearTimeout(this.timer); }
}
