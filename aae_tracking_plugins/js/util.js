// Small helpers shared by the tracker's modules.

export var w = window;
export var d = document;

export function noop() {}

// Wraps an entry point (event handler, timer, public API) so it can never
// throw into the page: the tracker must not break the page it runs on.
export function safe(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      // Swallowed on purpose.
    }
  };
}

// Runs fn when the main thread is idle (soon at the latest), so the work of
// sending (cookie, storage, network calls) stays off the page's load path.
export function later(fn, ms) {
  fn = safe(fn);
  if (!ms && w.requestIdleCallback) requestIdleCallback(fn, { timeout: 1000 });
  else setTimeout(fn, ms || 1);
}

// RFC 9562 version 4 UUID. randomUUID exists in secure contexts since
// Chrome 92 / Firefox 95 / Safari 15.4; older engines build one from
// getRandomValues (Chrome 11, Firefox 21, Safari 6.1).
export function uuid() {
  return crypto.randomUUID
    ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
}

// localStorage as JSON; null when missing, unreadable or blocked (private
// modes, sandboxed frames, a full quota, a page that replaced it).
export function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch (e) {
    return null;
  }
}

export function store(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch (e) {
    // Storage blocked or full: the data stays in memory for this page.
  }
}

export function warn(msg) {
  try {
    console.warn("aae-tracking: " + msg);
  } catch (e) {
    // No console (or a hostile one): stay silent.
  }
}
