// AAE tracker: PageView, AddToCart (CTA clicks) and Purchase events for
// statically generated landing pages. Placed at the end of <body>; its
// settings come from the data-* attributes of its tag and of the page's
// [data-aae-page] marker (settings.js).
//
// Hard rule: the tracker must never break or spam the page it runs on, so
// every entry point swallows its errors and nothing is ever logged as an
// error (only console.warn for a trackPurchase() call with bad arguments).
//
// Load-path rule: running this script only reads its settings and adds
// listeners. Cookies, storage and the network are touched when the browser
// is idle (within 1 s), or right away when the page is hidden.
import * as clicks from "./clicks.js";
import * as pageviews from "./pageviews.js";
import { declared, purchase } from "./purchase.js";
import { tag } from "./settings.js";
import { flush, setEndpoint, start } from "./transport.js";
import { d, later, load, on, safe, w } from "./util.js";

// Loopback pages (a `mkdocs serve` preview) may only send to a loopback
// collector, so previews never reach production numbers.
function loopback(url) {
  return /^(localhost|127(\.\d+){3}|\[::1\])$|\.localhost$/.test(url.hostname);
}

safe(() => {
  var cfg = (tag(d.currentScript) || d).dataset;
  var api = w.AAE_TRACKING;
  var endpoint = new URL(cfg.endpoint, location.href);
  var queued;
  var started;
  var replay = () => {
    queued.splice(0).forEach((item) => item[0] == "trackPurchase" && safe(purchase)(item[1][0]));
    declared();
  };
  var boot = safe(() => {
    if (!started) {
      started = 1;
      // A visitor (or a team member) excluded this browser for good:
      // localStorage.setItem("aae_ignore", "true").
      if (load("aae_ignore")) return setEndpoint();
      pageviews.landing(api, declared);
      replay();
      start();
    }
  });
  // Misconfigured tag: leave window.AAE_TRACKING untouched, so a correctly
  // configured tracker tag later on the page can still take over.
  if (!cfg.landingPageId) return;
  // Primitives (and undefined) cannot carry the API: start from scratch.
  if (Object(api) !== api) api = w.AAE_TRACKING = {};
  // Run once per document: a second copy (a content swap re-running the
  // script, a tag included twice) leaves the first one in charge.
  if (api.loaded) return;
  api.loaded = true;
  queued = Array.isArray(api.q) ? api.q : [];
  api.trackPurchase = () => {};
  // Only real web pages of a secure context send anything: not a saved copy
  // opened from file: (its URL names local folders), not plain http: (no
  // secure cookies), not a loopback preview sending to a remote collector,
  // and not a browser driven by automation unless the site asks for it.
  if (/^https?:$/.test(location.protocol) && w.isSecureContext &&
      (!loopback(location) || loopback(endpoint)) && (!navigator.webdriver || cfg.trackAutomation)) {
    setEndpoint(endpoint.href);
    // Calls made before the first PageView wait, so the wire order is always
    // PageView first, and a never-shown prerender records nothing.
    api.trackPurchase = safe(function () {
      queued.push(["trackPurchase", arguments]);
      if (started) replay();
    });
    clicks.listen();
    pageviews.listen();
    var leave = () => {
      boot();
      pageviews.settle();
      flush();
    };
    on(w, "pagehide", leave);
    on(d, "visibilitychange", () => d.visibilityState == "hidden" && leave());
    // A prerendered page is not a visit until the visitor actually opens it.
    if (d.prerendering) on(d, "prerenderingchange", () => later(boot), { once: true });
    else later(boot);
  }
})();
