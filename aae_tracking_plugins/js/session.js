// The visitor's session id: a first-party cookie, 30 days, sliding. With the
// cookieless setting, and in a frame (a landing page embedded in another
// site, where browsers refuse a SameSite=Lax cookie), sessionStorage
// instead: this tab only, and partitioned by the top-level site in a frame
// (docs/consent.md).
import { doc, load, random, SESSION, store, win } from "./util.js";

var NAME = "_aae_sid";
// In a frame the browser may refuse the cookie (and say so in the console):
// the session id is kept in the frame's sessionStorage instead.
var framed = win != win.top;
var sid;
var cookieless;
var tabOnly = framed;

export function noCookie() {
  cookieless = tabOnly = 1;
}

function cookie(text) {
  try {
    doc.cookie = NAME + "=" + text + "; path=/; samesite=lax" + (location.protocol == "https:" ? "; secure" : "");
  } catch (error) {
    // Sandboxed frame: document.cookie throws. The id lives in memory.
  }
}

// Read lazily, when the first event is sent: document.cookie is a synchronous
// call into the browser's cookie store (0.3-2 ms here), kept off the load path.
export function sessionId() {
  if (!sid) {
    try {
      if (!tabOnly) sid = (/(?:^|; *)_aae_sid=(sess_\d+_[a-z0-9]+)(;|$)/.exec(doc.cookie) || [])[1];
    } catch (error) {
      // See cookie().
    }
    sid = sid || load(NAME, SESSION) || "sess_" + Date.now() + "_" + random(16);
    if (tabOnly) store(NAME, sid, SESSION);
    // Rewritten on every page load: 30-day sliding expiry. First-party,
    // host-only. With cookies disabled this is a no-op and the in-memory id
    // serves this page. Cookieless: one left from before is removed.
    if (!framed) cookie(cookieless ? "; max-age=0" : sid + "; max-age=2592000");
  }
  return sid;
}

// Consent refused: the id is forgotten, from the cookie and the tab.
export function forget() {
  sid = 0;
  if (!framed) cookie("; max-age=0");
  store(NAME, null, SESSION);
}
