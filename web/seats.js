// seats.js: the seat map of a schedule (API.md 10): every seat with its status, refreshed
// while it is shown; up to MAX seats chosen with the mouse or the keyboard.
import { api, money } from './api.js';

export const MAX = 4;

export class SeatMap {
  // el: the grid; onChange(): the choice or the map changed; onError(e): a refresh failed.
  constructor(el, onChange, onError) {
    this.el = el;
    this.onChange = onChange;
    this.onError = onError;
    this.scheduleId = 0;
    this.seats = [];
    this.chosen = new Set();
    this.mine = new Set();      // seat numbers held by this user (from the holds)
    this.timer = 0;
  }

  async open(scheduleId, token) {
    this.close();
    this.scheduleId = scheduleId;
    this.token = token;
    this.chosen.clear();
    await this.refresh();
    this.timer = setInterval(() => this.refresh().catch((e) => this.onError(e)), 4000);
  }

  close() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  async refresh() {
    if (!this.scheduleId) return;
    const r = await api('GET', `/api/v1/schedules/${this.scheduleId}/seats`, { token: this.token });
    this.seats = r.body.seats;
    // A seat chosen but taken meanwhile leaves the choice.
    for (const n of [...this.chosen]) {
      const s = this.seats.find((x) => x.seatNo === n);
      if (!s || s.status !== 'AVAILABLE') this.chosen.delete(n);
    }
    this.render();
    this.onChange();
  }

  statusOf(s) {
    if (this.mine.has(s.seatNo) && s.status === 'HELD') return 'MINE';
    return s.status;
  }

  render() {
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.seat : undefined;
    const frag = document.createDocumentFragment();
    for (const s of this.seats) {
      const b = document.createElement('button');
      const st = this.statusOf(s);
      const chosen = this.chosen.has(s.seatNo);
      b.type = 'button';
      b.className = `seat ${st}${chosen ? ' selected' : ''}`;
      b.textContent = s.seatNo;
      b.dataset.seat = s.seatNo;
      b.dataset.status = st;
      b.setAttribute('aria-pressed', chosen ? 'true' : 'false');
      const words = { AVAILABLE: 'available', HELD: 'held', SOLD: 'sold', MINE: 'held by you' }[st];
      b.setAttribute('aria-label', `Seat ${s.seatNo}, ${money(s.price)}, ${chosen ? 'chosen' : words}`);
      b.disabled = st !== 'AVAILABLE';
      b.addEventListener('click', () => this.toggle(s.seatNo));
      frag.append(b);
    }
    this.el.replaceChildren(frag);
    if (focused) {
      const again = this.el.querySelector(`[data-seat="${focused}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  toggle(n) {
    if (this.chosen.has(n)) this.chosen.delete(n);
    else if (this.chosen.size + this.mine.size < MAX) this.chosen.add(n);
    else return this.onChange(`You can hold at most ${MAX} seats at once.`);
    this.render();
    this.onChange();
    return undefined;
  }

  price(n) {
    const s = this.seats.find((x) => x.seatNo === n);
    return s ? s.price : 0;
  }

  counts() {
    const c = { AVAILABLE: 0, HELD: 0, SOLD: 0 };
    for (const s of this.seats) c[s.status] = (c[s.status] || 0) + 1;
    return c;
  }
}
