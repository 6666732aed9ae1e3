// Delivery: every event reaches the collector once, or waits in a bounded,
// persistent queue until it can.
//
// - fetch(..., {keepalive: true}) with a text/plain string body: a CORS-simple
//   request (no preflight) that outlives the page like a beacon, but whose
//   status we can read, and which ad blockers block less often than
//   navigator.sendBeacon. sendBeacon is used only where fetch is missing.
// - 2xx and other 4xx: done (a 4xx would fail again: dropped). Network
//   errors, 408, 429 and 5xx: retried with exponential backoff and jitter,
//   never sooner than Retry-After; one request at a time (a probe) while
//   the collector keeps failing, the rest follow once it succeeds.
// - Unconfirmed events are kept in localStorage (at most 100, at most 7 days,
//   oldest dropped first) and retried on the next page load and when the
//   browser comes back online. The collector de-duplicates by event_id, so
//   an event resent after an unconfirmed success still counts once.
// - BATCH builds buffer events for a second and send {"events": [...]}.
// - Nothing is stored or sent before the page's decision (consent.js): until
//   then events wait in memory; a page that may not send drops them.
import { sessionId } from "./session.js";
import { load, on, store, win } from "./util.js";

var KEY = "_aae_q";
var BACKOFF = "_aae_b"; // [failures in a row, no request before (ms)], shared by the site's pages
// Where events go: undefined until decided (they wait in memory, nothing is
// stored), 0 when this page sends nothing (dropped), else the collector's URL.
var endpoint;
var armed; // the tracker has started: sending may begin once there is a URL
var queue = []; // events not yet confirmed, oldest first
var busy = new Set(); // events in flight
var flying = 0; // characters of the request bodies in flight
var done = new Set(); // event_ids confirmed by this page
var fails = 0;
var next = 0; // no request before this time (ms) while failing
var timer;
var ready;
var kept; // the stored queue holds events
var own = new WeakSet(); // events made on this page
var held = new WeakSet(); // ... that this page has stored
var gone; // the page is being left (pagehide)

// The collector's URL (see `endpoint`). 0 drops the queue; with `forget`
// (a refusal) what is stored goes too, so nothing is sent later.
export function setEndpoint(url, forget) {
  endpoint = url;
  if (url == 0) {
    clearTimeout(timer);
    timer = 0;
    queue = [];
    if (forget) {
      fails = next = 0;
      store(KEY);
      store(BACKOFF);
    }
  } else if (url && armed) {
    start();
    drain();
  }
}

function post(events) {
  var body;
  var settle = (ok, wait) => {
    flying -= body.length;
    events.forEach((event) => {
      busy.delete(event);
      if (ok) done.add(event.event_id);
    });
    if (ok) {
      queue = queue.filter((event) => !done.has(event.event_id));
      ok = fails;
      fails = next = 0;
      if (kept || ok) save();
    } else if (gone && wait < 0) {
      // A network error while the page is being left: the browser cut the
      // request's promise off (a keepalive request still goes out). Not the
      // collector failing: no backoff, which would hold up the next page's
      // events. The events stay stored for the next page load (sent again:
      // de-duplicated). A real answer (503...) still counts.
      return;
    } else {
      // 4 s, 8 s, 16 s ... 10 min, 50-100 % of it (jitter); Retry-After
      // first, up to a day.
      next =
        Date.now() +
        Math.max((Math.min(2e3 * 2 ** Math.min(++fails, 9), 6e5) * (1 + Math.random())) / 2, Math.min(wait, 864e5));
      save();
    }
    drain();
  };
  events.forEach((event) => {
    event.session_id = event.session_id || sessionId();
  });
  body = JSON.stringify(BATCH ? { events: events } : events[0]);
  flying += body.length;
  try {
    if (!win.fetch) {
      try {
        settle(navigator.sendBeacon(endpoint, body), 0);
      } catch (error) {
        settle(1); // no way to send at all: drop rather than loop
      }
      return;
    }
    fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "omit" }).then(
      (response) => {
        var status = response.status;
        // A keepalive request counts against the page's budget until its body
        // is consumed (Fetch standard): drop the body.
        response.body && response.body.cancel().catch(() => 0);
        // Retry-After: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3).
        var retryAfter = response.headers.get("Retry-After") || "";
        settle(
          status < 500 && status != 408 && status != 429,
          (/^\d+$/.test(retryAfter) ? retryAfter * 1e3 : Date.parse(retryAfter) - Date.now()) || 0
        );
      },
      () => settle(0, -1)
    );
  } catch (error) {
    settle(0, 0); // fetch threw (a page that replaced it, say): retry later
  }
}

// Sends what is waiting: up to six requests at a time while the collector is
// healthy, a single one (a probe) while it is failing. All keepalive bodies
// in flight stay within 20,000 characters: under the 64 KiB a page may have
// in flight even at 3 bytes per character.
export function drain(now) {
  clearTimeout(timer);
  timer = 0;
  if (!ready || !endpoint || (busy.size && fails)) return;
  if (Date.now() < next) {
    timer = setTimeout(drain, next - Date.now());
    return;
  }
  if (BATCH && !now) {
    timer = setTimeout(() => drain(1), 1e3);
    return;
  }
  var out = [];
  var size = flying;
  queue.forEach((event) => {
    var group = BATCH && out[out.length - 1];
    // + 60: the session id, filled in when sent, and the batch's wrapping.
    // One request may always go when nothing else is in flight, so an
    // oversized event cannot hold up the queue.
    if (busy.has(event) || ((size += JSON.stringify(event).length + 60) > 2e4 && (out.length || flying))) return;
    if (BATCH && group) group.push(event);
    else if (out.length < (fails ? 1 : 6)) out.push([event]);
    else return;
    // Marked before any is posted: a beacon settles synchronously, and the
    // drain() it triggers must not pick these again.
    busy.add(event);
  });
  out.forEach(post);
}

export function send(event) {
  if (endpoint != 0) {
    own.add(event);
    queue.push(event);
    if (queue.length > 100) queue.shift();
    if (!timer) drain();
  }
}

// Keeps what is unconfirmed for the next page load (and other tabs'
// unconfirmed events too: the stored queue is merged, not overwritten).
function save() {
  if (!endpoint) return;
  var seen = new Set();
  var all = valid(load(KEY))
    .concat(queue)
    .filter((event) => !seen.has(event.event_id) && !done.has(event.event_id) && seen.add(event.event_id));
  kept = all.length;
  store(KEY, kept ? all.slice(-100) : null);
  queue.forEach((event) => own.has(event) && held.add(event));
  // The next page load keeps to the backoff instead of starting afresh.
  store(BACKOFF, fails ? [fails, next] : null);
}

// Stored events still worth sending: well-formed and under 7 days old.
function valid(list) {
  return Array.isArray(list)
    ? list.filter((event) => event && event.event_id && Date.now() - Date.parse(event.timestamp) < 6048e5)
    : [];
}

// The tracker has started, after the page has loaded. Once there is a URL
// (at once, or when the visitor consents): pick up what earlier pages left
// (it stays stored until confirmed: another tab, a crash) and send.
export function start() {
  armed = 1;
  if (endpoint && !ready) {
    ready = 1;
    var old = valid(load(KEY));
    var backoff = load(BACKOFF) || [];
    queue = old.concat(queue).slice(-100);
    kept = old.length;
    fails = backoff[0] | 0;
    next = +backoff[1] || 0;
    drain();
    on(win, "online", () => {
      next = 0;
      drain(1);
    });
    // Back from the back/forward cache: the page is no longer being left.
    on(win, "pageshow", () => {
      gone = 0;
    });
    // Another tab stored the queue without events this page stored: its view
    // of storage had not caught up with this page's write (tabs in different
    // processes see each other's writes late; no storage mutex: HTML
    // standard, "Web storage"), and the last write won. Store them again,
    // with that tab's. Only this page's own events, so an event another tab
    // confirmed is not brought back; not when the queue is full (the bound
    // dropped them).
    on(win, "storage", (event) => {
      if (event.key == KEY) {
        var ids = valid(JSON.parse(event.newValue)).map((other) => other.event_id);
        if (ids.length < 100 && queue.some((mine) => held.has(mine) && !ids.includes(mine.event_id))) save();
      }
    });
  }
}

// Page hidden or being left (pagehide: `leaving`): send what is buffered
// now, keep the rest.
export function flush(leaving) {
  gone = leaving;
  start();
  if (!fails) drain(1);
  save();
}
