// AAE tracker: PageView, AddToCart (CTA clicks) and Purchase events for
// statically generated landing pages. Placed at the end of <body>; its
// settings come from the data-* attributes of its tag and of the page's
// [data-aae-page] marker (settings.js).
//
// Hard rule: the tracker must never break or spam the page it runs on, so
// every entry point swallows its errors and nothing is ever logged as an
// error (only console.warn for a purchase with bad arguments).
//
// Load-path rule: running this script only reads its own tag and adds
// listeners. Everything else (deciding whether this page may send, the
// cookie, storage, the network) happens when the browser is idle after the
// load (within 1 s), or right away when the page is hidden.
import * as clicks from "./clicks.js";
import * as pageviews from "./pageviews.js";
import { allow } from "./pixel.js";
import { declared, purchase } from "./purchase.js";
import { tag } from "./settings.js";
import { flush, setEndpoint, start } from "./transport.js";
import { d, later, load, on, safe, w } from "./util.js";

// Loopback hosts: a `mkdocs serve` preview, a local collector.
function loopback(url) {
  return /^(localhost|127(\.\d+){3}|\[::1\])$|\.localhost$/.test(url.hostname);
}

safe(() => {
  var cfg = (tag(d.currentScript) || d).dataset;
  var api = w.AAE_TRACKING;
  var queued;
  var started;
  var replay = () => {
    queued.splice(0).forEach((item) => item[0] == "trackPurchase" && safe(purchase)(item[1][0]));
    declared();
  };
  var boot = safe(() => {
    // Never while prerendering: a page not yet shown is not a visit.
    if (!started && !d.prerendering) {
      started = 1;
      var endpoint = new URL(cfg.endpoint, location.href);
      // Only real web pages of a secure context send anything: not a saved
      // copy opened from file: (its URL names local folders), not plain
      // http: (no secure cookies), not a loopback preview sending to a
      // remote collector (previews never reach production numbers), not a
      // browser driven by automation unless the site asks for it, and not a
      // browser whose owner excluded it for good:
      // localStorage.setItem("aae_ignore", "true").
      var ok = /^https?:$/.test(location.protocol) && w.isSecureContext &&
        (!loopback(location) || loopback(endpoint)) &&
        (!navigator.webdriver || cfg.trackAutomation) && !load("aae_ignore");
      setEndpoint(ok && endpoint.href);
      if (PIXEL) allow(ok);
      pageviews.landing(api, declared);
      replay();
      start();
    }
  });
  // Misconfigured tag: leave window.AAE_TRACKING untouched, so a correctly
  // configured tracker tag later on the page can still take over.
  if (!cfg.landingPageId || !cfg.endpoint) return;
  // Primitives (and undefined) cannot carry the API: start from scratch.
  if (Object(api) !== api) api = w.AAE_TRACKING = {};
  // Run once per document: a second copy (a content swap re-running the
  // script, a tag included twice) leaves the first one in charge.
  if (api.loaded) return;
  api.loaded = true;
  queued = Array.isArray(api.q) ? api.q : [];
  // Calls made before the first PageView wait, so the wire order is always
  // PageView first, and a never-shown prerender records nothing.
  api.trackPurchase = safe(function () {
    queued.push(["trackPurchase", arguments]);
    if (started) replay();
  });
  clicks.listen();
  pageviews.listen(boot);
  var leave = () => {
    // A prerendered page thrown away unseen was never visited.
    if (!d.prerendering) {
      boot();
      pageviews.settle();
      flush();
    }
  };
  on(w, "pagehide", leave);
  on(d, "visibilitychange", () => d.visibilityState == "hidden" && leave());
  // A prerendered page is not a visit until the visitor actually opens it.
  if (d.prerendering) on(d, "prerenderingchange", () => later(boot), { once: true });
  else later(boot);
})();
