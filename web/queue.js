// queue.js: a place in line: join, then poll until ACTIVE, honouring Retry-After and the
// service's own estimate (API.md 5-7). Works the same in both queue modes; where the place
// cannot be lost before its estimated time (the timed mode), it polls once, at that time.
import { api, ApiError } from './api.js';

export class Line {
  // onChange(ticket) after every answer; onError(e) for an error that ends the wait.
  constructor(onChange, onError) {
    this.onChange = onChange;
    this.onError = onError;
    this.ticket = null;
    this.timer = 0;
    this.ticker = 0;
    this.firstPosition = 0;
  }

  get token() { return this.ticket ? this.ticket.token : ''; }
  get active() { return !!this.ticket && this.ticket.status === 'ACTIVE'; }

  async join(userId) {
    this.stop();
    const r = await this.retrying(() => api('POST', '/api/v1/queue/tokens', { body: { userId } }));
    this.firstPosition = r.body.position || 0;
    this.update(r.body, r.headers);
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

  update(t, headers) {
    clearInterval(this.ticker);
    this.ticket = t;
    this.onChange(t);
    if (t.status !== 'ACTIVE') this.schedule(this.nextPoll(t, headers), t);
  }

  // Seconds to the next poll. A waiting token whose expiresAt lies more than a minute past its
  // estimated time cannot lose its place before that time (the timed mode: the time is signed
  // into the token, and a million fans polling every few seconds would be most of the load):
  // one poll, at that time. Otherwise (the default mode, where a waiter that stops polling for
  // QUEUE_WAIT_IDLE_TTL loses its place) a quarter of the estimate, between 1 and 5 s, so that
  // the place is shown moving and the idle limit is never reached. "Now" is the server's
  // (its Date header), so that a fan's clock that is off cannot make the page wait too long.
  nextPoll(t, headers) {
    const wait = t.estimatedWaitSeconds || 1;
    const date = headers && Date.parse(headers.get('Date'));
    const left = (Date.parse(t.expiresAt) - (date || Date.now())) / 1000;
    if (left > wait + 60) return wait;
    return Math.min(5, Math.max(1, Math.ceil(wait / 4)));
  }

  schedule(seconds, t) {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = setTimeout(() => this.poll(), seconds * 1000);
    if (t && seconds > 5) this.countDown(t, seconds);
  }

  // Between two polls far apart the wait shown goes down every second, and the place with it
  // (the timed mode admits at a steady rate): the page's own arithmetic, no request.
  countDown(t, seconds) {
    const end = Date.now() + seconds * 1000;
    this.ticker = setInterval(() => {
      const left = Math.max(1, Math.ceil((end - Date.now()) / 1000));
      this.onChange({ ...t, estimatedWaitSeconds: left,
        position: Math.max(1, Math.ceil((t.position * left) / seconds)) });
    }, 1000);
  }

  async poll() {
    try {
      const r = await api('GET', '/api/v1/queue/tokens/current', { token: this.token });
      this.update(r.body, r.headers);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 'TOO_MANY_REQUESTS' ||
          e.code === 'SERVICE_UNAVAILABLE' || e.code === 'NETWORK')) {
        this.schedule(Math.max(1, e.retryAfter || 2), null);  // keep the place: try again
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

  stop() { clearTimeout(this.timer); clearInterval(this.ticker); }
}
