// Delivery: every event reaches the collector once, or waits in a bounded,
// persistent queue until it can.
//
// - fetch(..., {keepalive: true}) with a text/plain string body: a CORS-simple
//   request (no preflight) that outlives the page like a beacon, but whose
//   status we can read, and which ad blockers block less often than
//   navigator.sendBeacon. sendBeacon is used only where fetch is missing.
// - 2xx and other 4xx: done (a 4xx would fail again: dropped). Network
//   errors, 408, 429 and 5xx: retried with exponential backoff and jitter,
//   never sooner than Retry-After; at most one request in flight while the
//   collector keeps failing (a probe), the rest follow once it succeeds.
// - Unconfirmed events are kept in localStorage (at most 100, at most 7 days,
//   oldest dropped first) and retried on the next page load and when the
//   browser comes back online. The collector de-duplicates by event_id, so
//   an event resent after an unconfirmed success still counts once.
// - BATCH builds buffer events briefly and send {"events": [...]}.
import { sessionId } from "./session.js";
import { later, load, store, w } from "./util.js";

var KEY = "_aae_q";
var MAX = 100;
var WEEK = 6048e5;
var BUDGET = 2e4; // characters per request: < 64 KiB keepalive budget even at 3 bytes each

var endpoint;
var queue = []; // events not yet confirmed, oldest first
var busy = new Set(); // event_ids in flight
var done = new Set(); // event_ids confirmed by this page
var fails = 0;
var next = 0; // no request before this time (ms) while failing
var timer;
var ready = false;
var kept = false; // the stored queue holds events

// The collector's URL; none (null) stops all sending and forgets the queue.
export function setEndpoint(url) {
  endpoint = url;
  if (!url) queue = [];
}

function post(events) {
  var ids = events.map((e) => e.event_id);
  events.forEach((e) => {
    e.session_id = e.session_id || sessionId();
    busy.add(e.event_id);
  });
  var body = JSON.stringify(BATCH ? { events: events } : events[0]);
  var settle = (ok, wait) => {
    ids.forEach((id) => busy.delete(id));
    if (ok) {
      ids.forEach((id) => done.add(id));
      queue = queue.filter((e) => !done.has(e.event_id));
      fails = next = 0;
      if (kept) save();
      drain();
    } else {
      fails++;
      // 4 s, 8 s, 16 s ... 10 min, 50-100 % of it (jitter), Retry-After first.
      next = Date.now() + Math.max(Math.min(2e3 << fails, 6e5) * (0.5 + Math.random() / 2), wait || 0);
      save();
      schedule();
    }
  };
  if (!w.fetch) {
    try {
      settle(navigator.sendBeacon(endpoint, body));
    } catch (e) {
      settle(true); // no way to send at all: drop rather than loop
    }
    return;
  }
  fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "omit" })
    .then((r) => {
      var s = r.status;
      settle(s < 500 && s != 408 && s != 429, retryAfter(r.headers.get("Retry-After")));
    }, () => settle(false));
}

// Retry-After: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3), in ms.
function retryAfter(v) {
  return v ? (/^\d+$/.test(v) ? v * 1e3 : Date.parse(v) - Date.now()) || 0 : 0;
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(drain, Math.max(next - Date.now(), BATCH ? 1e3 : 0));
}

// Sends what is waiting: a few requests at a time while the collector is
// healthy, a single one (a probe) while it is failing.
export function drain() {
  if (!ready || !endpoint || busy.size && fails) return;
  if (Date.now() < next) return schedule();
  var out = [];
  var size = 0;
  var room = fails ? 1 : 6 - busy.size;
  queue.forEach((e) => {
    if (busy.has(e.event_id)) return;
    var n = JSON.stringify(e).length;
    if (BATCH && out.length && (size += n) <= BUDGET) out[out.length - 1].push(e);
    else if (out.length < room) {
      out.push([e]);
      size = n;
    }
  });
  out.forEach(post);
}

export function send(event) {
  if (!endpoint) return;
  queue.push(event);
  if (queue.length > MAX) queue.shift();
  if (!BATCH) drain();
  else if (!timer) schedule();
}

// Keeps what is unconfirmed for the next page load (and other tabs'
// unconfirmed events too: the stored queue is merged, not overwritten).
export function save() {
  var seen = new Set();
  var all = valid(load(KEY)).concat(queue).filter((e) =>
    !seen.has(e.event_id) && !done.has(e.event_id) && seen.add(e.event_id));
  kept = all.length > 0;
  store(KEY, kept ? all.slice(-MAX) : null);
}

// Stored events that are still worth sending: well-formed, under a week old.
function valid(list) {
  return Array.isArray(list)
    ? list.filter((e) => e && e.event_id && Date.now() - Date.parse(e.timestamp) < WEEK)
    : [];
}

// First run after the page has loaded: pick up what earlier pages left (they
// stay stored until confirmed: another tab, a crash).
export function start() {
  if (ready) return;
  ready = true;
  var old = valid(load(KEY));
  queue = old.concat(queue).slice(-MAX);
  kept = old.length > 0;
  drain();
  w.addEventListener("online", () => later(() => {
    next = 0;
    drain();
  }));
}

// Page hidden or being left: send what is buffered now, keep the rest.
export function flush() {
  if (!ready) start();
  clearTimeout(timer);
  timer = 0;
  if (!fails) drain();
  save();
}
