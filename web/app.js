// app.js: the fan's page: who you are, the line, the seat map, holds, paying, the receipt,
// the balance and the history. Plain modules, no build step, the public API only.
import { api, explain, when, money, ApiError } from './api.js';
import { Line } from './queue.js';
import { SeatMap } from './seats.js';
import * as wallet from './wallet.js';
import { hold, release, secondsLeft, clock, Payer } from './pay.js';

const $ = (id) => document.getElementById(id);
const state = { userId: '', concertId: 0, holds: [], schedules: [] };
const payer = new Payer();
const charger = new wallet.Charger();

function say(msg, kind = 'error') {
  const a = $('alert');
  a.textContent = msg;
  a.className = kind === 'info' ? 'alert info' : 'alert';
  a.hidden = !msg;
}
const quiet = () => say('');
function show(id, on = true) { $(id).hidden = !on; }

// --- the user ----------------------------------------------------------------------------

async function setUser(u) {
  state.userId = u;
  localStorage.setItem('concert.userId', u);
  $('whoami').textContent = `Signed in as ${u}`;
  $('user-id').value = u;
  show('step-concert');
  show('step-wallet');
  show('step-history');
  await Promise.all([showBalance(), showHistory()]);
}

$('user-new').addEventListener('click', async () => {
  try {
    quiet();
    await setUser(await wallet.createUser());
    say('Your account is ready. Keep your user id to come back later.', 'info');
  } catch (e) { say(explain(e)); }
});

$('user-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    quiet();
    await setUser(await wallet.checkUser($('user-id').value));
  } catch (e) { say(explain(e, 'That user')); }
});

// --- concerts and the line ---------------------------------------------------------------

async function loadConcerts() {
  const r = await api('GET', '/api/v1/concerts');
  const sel = $('concert');
  sel.replaceChildren(...r.body.concerts.map((c) => {
    const o = document.createElement('option');
    o.value = c.concertId;
    o.textContent = `${c.title} — ${c.venue}`;
    return o;
  }));
}

const line = new Line(onTicket, (e) => {
  say(explain(e));
  $('queue-status').textContent = 'You are not in line.';
  $('join').disabled = false;
});

function onTicket(t) {
  show('queue');
  const st = $('queue-status');
  if (t.status === 'ACTIVE') {
    st.textContent = `It is your turn. Your place is kept until ${when(t.expiresAt)}.`;
    $('queue-progress').value = 100;
    if (!state.schedules.length) loadSchedules().catch((e) => say(explain(e)));
    return;
  }
  const wait = t.estimatedWaitSeconds;
  st.textContent = `You are number ${t.position} in line. About ${wait} second${wait === 1 ? '' : 's'} to wait.`;
  const first = Math.max(line.firstPosition, t.position, 1);
  $('queue-progress').value = Math.round(((first - t.position) / first) * 100);
}

$('concert-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!state.userId) return say('Create an account or enter your user id first.');
  quiet();
  state.concertId = Number($('concert').value);
  state.schedules = [];
  $('join').disabled = true;
  try {
    await line.join(state.userId);
  } catch (e) {
    say(explain(e, 'That user'));
    $('join').disabled = false;
  }
});

$('queue-leave').addEventListener('click', async () => {
  try { await line.leave(); } catch (e) { say(explain(e)); }
  leaveSale();
  $('queue-status').textContent = 'You left the line.';
});

function leaveSale() {
  seatMap.close();
  state.schedules = [];
  show('step-seats', false);
  $('join').disabled = false;
}

// --- dates and seats ---------------------------------------------------------------------

const seatMap = new SeatMap($('seat-map'), (note) => {
  const c = seatMap.counts();
  $('seat-summary').textContent = `${c.AVAILABLE} available, ${c.HELD} held, ${c.SOLD} sold. ` +
    `You chose ${seatMap.chosen.size} of up to ${4 - state.holds.length}.`;
  $('hold').disabled = seatMap.chosen.size === 0;
  if (note) say(note, 'info');
}, (e) => {
  if (e instanceof ApiError && (e.code === 'TOKEN_INVALID' || e.code === 'TOKEN_NOT_ACTIVE')) {
    seatMap.close();
  }
  say(explain(e));
});

async function loadSchedules() {
  const r = await api('GET', `/api/v1/concerts/${state.concertId}/schedules`, { token: line.token });
  state.schedules = r.body.schedules;
  const sel = $('schedule');
  sel.replaceChildren(...state.schedules.map((s) => {
    const o = document.createElement('option');
    o.value = s.scheduleId;
    const opens = new Date(s.salesOpenAt) > new Date() ? `, sales open ${when(s.salesOpenAt)}` : '';
    o.textContent = `${when(s.startsAt)} (${s.availableSeats} of ${s.totalSeats} left${opens})`;
    return o;
  }));
  // The first date on sale with seats left, else the first.
  const open = state.schedules.find((s) => s.availableSeats > 0 &&
    (!s.salesOpenAt || new Date(s.salesOpenAt) <= new Date()));
  if (open) sel.value = String(open.scheduleId);
  show('step-seats');
  if (state.schedules.length) await seatMap.open(Number(sel.value), line.token);
  else say('This concert has no upcoming dates.', 'info');
}

$('schedule').addEventListener('change', () => {
  seatMap.open(Number($('schedule').value), line.token).catch((e) => say(explain(e)));
});

$('hold').addEventListener('click', async () => {
  quiet();
  const problems = [];
  $('hold').disabled = true;
  for (const n of [...seatMap.chosen].sort((a, b) => a - b)) {
    try {
      const h = await hold(line.token, seatMap.scheduleId, n);
      if (!state.holds.some((x) => x.reservationId === h.reservationId)) state.holds.push(h);
      seatMap.mine.add(n);
    } catch (e) {
      problems.push(explain(e, `Seat ${n}`));
    }
    seatMap.chosen.delete(n);
  }
  if (problems.length) say(problems.join(' '));
  renderHolds();
  await seatMap.refresh().catch((e) => say(explain(e)));
});

// --- holds, the countdown, paying --------------------------------------------------------

function renderHolds() {
  const ul = $('holds');
  ul.replaceChildren(...state.holds.map((h) => {
    const li = document.createElement('li');
    const what = document.createElement('span');
    what.textContent = `Seat ${h.seatNo} — ${money(h.price)}`;
    const left = document.createElement('span');
    left.className = 'left';
    left.dataset.reservation = h.reservationId;
    const drop = document.createElement('button');
    drop.type = 'button';
    drop.className = 'secondary';
    drop.textContent = 'Let go';
    drop.setAttribute('aria-label', `Let go of seat ${h.seatNo}`);
    drop.addEventListener('click', async () => {
      try {
        await release(line.token, h.reservationId);
        forget(h);
        await seatMap.refresh();
      } catch (e) { say(explain(e)); }
    });
    li.append(what, left, drop);
    return li;
  }));
  const total = state.holds.reduce((s, h) => s + h.price, 0);
  show('step-pay', state.holds.length > 0);
  $('pay').disabled = state.holds.length === 0;
  $('pay').textContent = payer.retrying ? 'Try the payment again' : 'Pay';
  $('pay-total').textContent = state.holds.length ? `Total ${money(total)}` : '';
  tick();
}

function forget(h) {
  state.holds = state.holds.filter((x) => x.reservationId !== h.reservationId);
  seatMap.mine.delete(h.seatNo);
  renderHolds();
}

// Once a second: the time left on each hold, and the soonest one as the big countdown.
function tick() {
  const now = Date.now();
  let soonest = Infinity;
  for (const h of [...state.holds]) {
    const s = secondsLeft(h.expiresAt, now);
    const el = document.querySelector(`[data-reservation="${h.reservationId}"]`);
    if (el) el.textContent = `${clock(s)} left`;
    if (s === 0) {
      forget(h);
      say(`Your hold on seat ${h.seatNo} ran out, so the seat was released.`);
      seatMap.refresh().catch(() => {});
      continue;
    }
    soonest = Math.min(soonest, s);
  }
  const t = $('hold-timer');
  // Read out at most once a minute and in the last 10 seconds, not every second.
  const speak = soonest <= 10 || soonest % 60 === 0;
  t.setAttribute('aria-live', speak ? 'polite' : 'off');
  t.textContent = Number.isFinite(soonest) ? `Time left to pay: ${clock(soonest)}` : '';
  t.classList.toggle('low', soonest <= 30);
}
setInterval(tick, 1000);

$('pay').addEventListener('click', async () => {
  quiet();
  $('pay').disabled = true;
  const ids = state.holds.map((h) => h.reservationId);
  try {
    const p = await payer.pay(line.token, ids);
    line.spent();  // a token used by a payment passes no gate any more
    showReceipt(p, state.holds);
    state.holds = [];
    seatMap.mine.clear();
    renderHolds();
    leaveSale();
    $('queue-status').textContent = 'Paid. Join the line again to buy more.';
    await showBalance();
    await showHistory();
    setTimeout(() => showHistory().catch(() => {}), 1500);  // the history row follows the answer
  } catch (e) {
    say(explain(e));
    if (e instanceof ApiError && e.code === 'RESERVATION_EXPIRED') {
      for (const h of [...state.holds]) if (secondsLeft(h.expiresAt) === 0) forget(h);
      seatMap.refresh().catch(() => {});
    }
    renderHolds();
    if (e instanceof ApiError && e.code === 'INSUFFICIENT_BALANCE') $('amount').focus();
  }
});

function showReceipt(p, holds) {
  const dl = $('receipt-body');
  const rows = [
    ['Payment', p.paymentId],
    ['Seats', holds.map((h) => h.seatNo).join(', ')],
    ['Amount', money(p.amount)],
    ['Balance after', money(p.balance)],
    ['Status', p.status],
    ['Paid at', when(p.paidAt)],
  ];
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
  show('receipt');
  $('receipt').focus();
}

$('again').addEventListener('click', () => {
  show('receipt', false);
  $('join').focus();
});

// --- balance and history -----------------------------------------------------------------

async function showBalance() {
  $('balance').textContent = `Balance: ${money(await wallet.balance(state.userId))}`;
}

$('charge-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  quiet();
  const amount = Number($('amount').value);
  if (!Number.isInteger(amount) || amount < 1 || amount > 10000000) {
    return say('Enter a whole amount from 1 to 10,000,000.');
  }
  try {
    const b = await charger.charge(state.userId, amount);
    $('balance').textContent = `Balance: ${money(b)}`;
    await showHistory();
  } catch (e) { say(explain(e)); }
  return undefined;
});

function cells(tr, values, numeric) {
  values.forEach((v, i) => {
    const td = document.createElement('td');
    td.textContent = v;
    if (numeric.includes(i)) td.className = 'num';
    tr.append(td);
  });
  return tr;
}

async function showHistory() {
  const [pays, ents] = await Promise.all([wallet.payments(state.userId), wallet.entries(state.userId)]);
  $('payments').tBodies[0].replaceChildren(...(pays.length ? pays.map((p) => cells(
    document.createElement('tr'),
    [when(p.paidAt), String(p.reservationIds.length), money(p.amount), money(p.refundedAmount || 0)],
    [1, 2, 3])) : [cells(document.createElement('tr'), ['No payments yet.', '', '', ''], [])]));
  const names = { CHARGE: 'Money added', PAYMENT: 'Payment', REFUND: 'Refund' };
  $('entries').tBodies[0].replaceChildren(...(ents.length ? ents.map((e) => cells(
    document.createElement('tr'),
    [when(e.createdAt), names[e.type] || e.type, (e.amount > 0 ? '+' : '') + money(e.amount), money(e.balanceAfter)],
    [2, 3])) : [cells(document.createElement('tr'), ['Nothing yet.', '', '', ''], [])]));
}

$('history-refresh').addEventListener('click', () => showHistory().catch((e) => say(explain(e))));

// --- start -------------------------------------------------------------------------------

(async () => {
  try {
    await loadConcerts();
    const saved = localStorage.getItem('concert.userId');
    if (saved) await setUser(saved).catch(() => localStorage.removeItem('concert.userId'));
  } catch (e) { say(explain(e)); }
})();
