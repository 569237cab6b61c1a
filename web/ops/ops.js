// ops.js: the operators' dashboard: scrapes /metrics every few seconds and draws rates,
// latency percentiles and gauges with uPlot (tools/node_modules/uplot, pinned).
/* global uPlot */

const GROUPS = ['queue', 'concert', 'reservation', 'wallet', 'payment'];
const COLORS = ['#0b5fff', '#1a7f37', '#b26b00', '#7c3aed', '#b42318', '#0e7490', '#be185d', '#4d7c0f'];
const params = new URLSearchParams(location.search);
const INTERVAL = Math.max(1, Number(params.get('interval')) || 2);
const KEEP = 600;  // samples kept (20 minutes at 2 s)

// Parses the text exposition into {series key -> value}; a key is name{labels} as written.
export function parse(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

// Every series of a family with its labels: [{labels, value}].
function family(m, name) {
  const res = [];
  for (const [k, v] of m) {
    if (k !== name && !k.startsWith(`${name}{`)) continue;
    const labels = {};
    const body = k.slice(name.length + 1, -1);
    for (const mt of body.matchAll(/([a-z_]+)="([^"]*)"/g)) labels[mt[1]] = mt[2];
    res.push({ labels, value: v });
  }
  return res;
}

function sum(m, name, pred = () => true) {
  return family(m, name).filter((s) => pred(s.labels)).reduce((a, s) => a + s.value, 0);
}

// The q-quantile of the requests between two scrapes, from the histogram buckets' growth
// (the way Prometheus's histogram_quantile interpolates); null when nothing was answered.
export function quantile(q, prev, cur, group) {
  const b = (m) => family(m, 'concert_http_request_duration_seconds_bucket')
    .filter((s) => s.labels.group === group)
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), v: s.value }))
    .sort((x, y) => x.le - y.le);
  const a = b(prev);
  const c = b(cur);
  if (!c.length || a.length !== c.length) return null;
  const d = c.map((x, i) => ({ le: x.le, v: x.v - a[i].v }));
  const total = d[d.length - 1].v;
  if (total <= 0) return null;
  const rank = q * total;
  let lo = 0;
  let below = 0;
  for (const x of d) {
    if (x.v >= rank) {
      if (x.le === Infinity) return lo;
      return lo + (x.le - lo) * ((rank - below) / Math.max(1, x.v - below));
    }
    lo = x.le;
    below = x.v;
  }
  return lo;
}

// --- the charts --------------------------------------------------------------------------

const charts = [];

function chart(title, unit, names, compute) {
  const box = document.createElement('section');
  box.className = 'chart';
  const h = document.createElement('h2');
  h.textContent = title;
  const now = document.createElement('p');
  now.className = 'now';
  box.append(h, now);
  document.getElementById('charts').append(box);
  const c = { title, unit, names: [...names], compute, box, now, data: [[]], plot: null };
  c.data = [[], ...c.names.map(() => [])];
  charts.push(c);
  return c;
}

function build(c) {
  if (c.plot) c.plot.destroy();
  const width = Math.max(280, c.box.clientWidth - 16);
  c.plot = new uPlot({
    width, height: 200,
    scales: { x: { time: true } },
    axes: [{}, { label: c.unit, size: 60 }],
    series: [{}, ...c.names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true }))],
  }, c.data, c.box);
}

// Adds a point: values by series name; a new name adds a series (seats per schedule).
function push(c, t, values) {
  let grew = false;
  for (const n of Object.keys(values)) {
    if (!c.names.includes(n)) {
      c.names.push(n);
      c.data.push(c.data[0].map(() => null));
      grew = true;
    }
  }
  c.data[0].push(t);
  c.names.forEach((n, i) => c.data[i + 1].push(values[n] ?? null));
  if (c.data[0].length > KEEP) c.data.forEach((a) => a.shift());
  if (grew || !c.plot) build(c);
  else c.plot.setData(c.data);
  c.now.textContent = c.names.map((n) => {
    const v = values[n];
    return `${n}: ${v == null ? '–' : Math.round(v * 1000) / 1000}`;
  }).join('  ·  ');
}

const rate = (p, c, dt, name, pred) => Math.max(0, (sum(c, name, pred) - sum(p, name, pred)) / dt);
const perGroup = (f) => Object.fromEntries(GROUPS.map((g) => [g, f(g)]));

chart('Requests per second', 'req/s', GROUPS, (p, c, dt) =>
  perGroup((g) => rate(p, c, dt, 'concert_http_requests_total', (l) => l.group === g)));
chart('Errors per second (5xx answers)', 'err/s', GROUPS, (p, c, dt) =>
  perGroup((g) => rate(p, c, dt, 'concert_http_requests_total', (l) => l.group === g && l.code >= '500')));
chart('Latency p50 (ms)', 'ms', GROUPS, (p, c) =>
  perGroup((g) => { const v = quantile(0.5, p, c, g); return v == null ? null : v * 1000; }));
chart('Latency p99 (ms)', 'ms', GROUPS, (p, c) =>
  perGroup((g) => { const v = quantile(0.99, p, c, g); return v == null ? null : v * 1000; }));
chart('The line: waiting and active', 'tokens', ['waiting', 'active'], (p, c) => ({
  waiting: sum(c, 'concert_queue_waiting'), active: sum(c, 'concert_queue_active') }));
chart('Admissions per minute', '/min', ['admitted'], (p, c, dt) => ({
  admitted: rate(p, c, dt, 'concert_queue_admitted_total') * 60 }));
chart('Holds per minute', '/min', ['held', 'lost', 'expired', 'cancelled'], (p, c, dt) =>
  Object.fromEntries(['held', 'lost', 'expired', 'cancelled'].map((o) =>
    [o, rate(p, c, dt, 'concert_holds_total', (l) => l.outcome === o) * 60])));
chart('Sales per minute', '/min', ['payments', 'refunds'], (p, c, dt) => ({
  payments: rate(p, c, dt, 'concert_payments_total') * 60,
  refunds: rate(p, c, dt, 'concert_refunds_total') * 60 }));
chart('Seats left per schedule', 'seats', [], (p, c) => Object.fromEntries(
  family(c, 'concert_seats_available').map((s) => [`schedule ${s.labels.schedule}`, s.value])));

// --- the loop ----------------------------------------------------------------------------

let prev = null;
let prevT = 0;
let scrapes = 0;

async function scrape() {
  const status = document.getElementById('status');
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const cur = parse(await res.text());
    const t = Date.now() / 1000;
    if (prev) {
      const dt = Math.max(0.001, t - prevT);
      for (const c of charts) push(c, t, c.compute(prev, cur, dt));
    }
    prev = cur;
    prevT = t;
    scrapes += 1;
    document.body.dataset.scrapes = String(scrapes);
    status.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    status.className = '';
  } catch (e) {
    status.textContent = `Could not read /metrics: ${e.message}`;
    status.className = 'bad';
  }
}

document.getElementById('interval').textContent = String(INTERVAL);
window.addEventListener('resize', () => charts.forEach((c) => c.plot && build(c)));
scrape();
setInterval(scrape, INTERVAL * 1000);
