// Small helpers shared by the tracker's modules.

// Aliases, not style: the minifier renames these to one letter but leaves the
// globals `window` and `document` whole (using the globals directly made the
// default build 195 B bigger, 5 B gzip).
export var win = window;
export var doc = document;

// Wraps an entry point (event handler, timer, public API) so it can never
// throw into the page: the tracker must not break the page it runs on.
export function safe(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (error) {
      // Swallowed on purpose.
    }
  };
}

// addEventListener with a safe handler.
export function on(target, type, fn, options) {
  target.addEventListener(type, safe(fn), options);
}

// Runs fn once, when the main thread is idle, so the work of sending
// (cookie, storage, network calls) stays off the page's load path. Without
// requestIdleCallback (Safari), setTimeout reads the options object as 0 ms.
// Chromium does not always honour the idle callback's timeout while a page
// loads (seen: 2.7-3.9 s here), so a plain timer makes sure within 1 s.
export function later(fn) {
  var run = safe(() => {
    var once = fn;
    fn = 0;
    if (once) once();
  });
  (win.requestIdleCallback || setTimeout)(run, { timeout: 1e3 });
  setTimeout(run, 1e3);
}

// `count` random base-32 characters (5 bits each) from the CSPRNG; & 31 keeps
// them bias-free.
export function random(count) {
  return Array.from(crypto.getRandomValues(new Uint8Array(count)), (byte) => (byte & 31).toString(32)).join("");
}

// The event id: an RFC 9562 version 4 UUID where crypto.randomUUID exists
// (secure contexts since Chrome 92, Firefox 95, Safari 15.4), else 130
// random bits.
export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : random(26);
}

// Every query key a sent URL may keep: the campaign parameters (the first
// five, kept for the session: utm.js), Google's and Meta's click ids, and the
// site's own (the query_params setting: tracker.js adds them).
export var KEEP = "utm_source utm_medium utm_campaign utm_term utm_content gclid fbclid".split(" ");

// The address `url` (default: the page's) as events carry it: no fragment
// (it can hold tokens: OAuth's #access_token=), no user name or password, and
// of its query only the keys of KEEP (matched as written, not decoded: a key
// spelt otherwise is dropped); of another origin (a referrer), only origin and
// path (docs/security-privacy.md).
// A kept key whose value holds an email address (a mailing tool's merge tag
// in utm_content, say) is dropped too: see personal().
export function here(url) {
  var parsed = new URL(url || location.href);
  parsed.username = parsed.password = parsed.hash = "";
  parsed.search =
    parsed.origin == location.origin
      ? parsed.search
          .slice(1)
          .split("&")
          .filter((pair) => KEEP.includes(pair.split("=")[0]) && !personal(pair))
          .join("&")
      : "";
  return parsed.href;
}

// Whether `text` (a query pair, raw, or a decoded value) holds an email
// address, "@" written plainly or percent-encoded. Not decoded first: a
// malformed escape would throw, and the try costs bytes in the default build.
// Phone numbers are not looked for: campaign ids are long digit strings too.
export function personal(text) {
  return /[\w.%+-](@|%40)[\w-]+(\.[\w-]+)*\.[a-z]{2,}/i.test(text);
}

// Up to 200 characters (code points: never half of a surrogate pair) of
// `text`, whitespace collapsed and trimmed.
export function clean(text) {
  return Array.from(
    String(text || "")
      .replace(/\s+/g, " ")
      .trim()
  )
    .slice(0, 200)
    .join("");
}

// Global Privacy Control (https://w3c.github.io/gpc/): the visitor's browser
// asks sites not to sell or share their data.
export var gpc = navigator.globalPrivacyControl == true;

// Where the tracker's own data is kept: localStorage, or sessionStorage (this
// tab only) with the cookieless setting. The visitor's own keys (aae_ignore,
// aae_consent) always go to localStorage, the session id of a cookieless page
// to sessionStorage (`box`).
export var LOCAL = "localStorage";
export var SESSION = "sessionStorage";
var area = LOCAL;
var writes; // whether the page may store data now (it may send)

export function perTab() {
  area = SESSION;
}

export function writable(ok) {
  writes = ok;
}

// Stored JSON; null when missing, unreadable or blocked (private modes,
// sandboxed frames, a full quota, a page that replaced it).
export function load(key, box) {
  try {
    return JSON.parse(win[box || area].getItem(key));
  } catch (error) {
    return null;
  }
}

// Stores `value` (null: removes the key): the tracker's data only while the
// page may send; a `box` named by the caller (the visitor's own keys, the
// session id, written only when sending) always. Removing is always allowed.
export function store(key, value, box) {
  try {
    var storage = win[box || area];
    if (value == null) storage.removeItem(key);
    else if (writes || box) storage.setItem(key, JSON.stringify(value));
  } catch (error) {
    // Storage blocked or full: the data stays in memory for this page.
  }
}
