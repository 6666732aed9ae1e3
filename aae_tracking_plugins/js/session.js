// The visitor's session id: a first-party cookie, 30 days, sliding.
import { doc, random } from "./util.js";

var sid;

// Read lazily, when the first event is sent: document.cookie is a synchronous
// call into the browser's cookie store (0.3-2 ms here), kept off the load path.
export function sessionId() {
  if (!sid) {
    try {
      sid = (/(?:^|; *)_aae_sid=(sess_\d+_[a-z0-9]+)(;|$)/.exec(doc.cookie) || [])[1];
    } catch (error) {
      // Sandboxed iframe: document.cookie throws. The id lives in memory.
    }
    sid = sid || "sess_" + Date.now() + "_" + random(16);
    try {
      // Rewritten on every page load: 30-day sliding expiry. First-party,
      // host-only. With cookies disabled this is a no-op and the in-memory
      // id serves this page.
      doc.cookie =
        "_aae_sid=" +
        sid +
        "; max-age=2592000; path=/; samesite=lax" +
        (location.protocol == "https:" ? "; secure" : "");
    } catch (error) {
      // See above.
    }
  }
  return sid;
}
