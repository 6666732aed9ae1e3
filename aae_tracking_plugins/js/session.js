// The visitor's session id: a first-party cookie, 30 days, sliding.
import { d } from "./util.js";

var sid;

// Read lazily, when the first event is sent: document.cookie is a synchronous
// call into the browser's cookie store (0.3-2 ms here), kept off the load path.
export function sessionId() {
  if (sid) return sid;
  var m;
  try {
    m = /(?:^|;\s*)_aae_sid=(sess_\d+_[a-z0-9]+)(?:;|$)/.exec(d.cookie);
  } catch (e) {
    // Sandboxed iframe: document.cookie throws. The id lives in memory.
  }
  sid = m ? m[1] : "sess_" + Date.now() + "_" +
    // 16 chars x 5 bits from the CSPRNG; & 31 keeps it bias-free.
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b & 31).toString(32)).join("");
  try {
    // Rewritten on every page load: 30-day sliding expiry. First-party,
    // host-only. With cookies disabled this is a no-op and the in-memory id
    // serves this page.
    d.cookie = "_aae_sid=" + sid + "; max-age=2592000; path=/; samesite=lax" +
      (location.protocol == "https:" ? "; secure" : "");
  } catch (e) {
    // See above.
  }
  return sid;
}
