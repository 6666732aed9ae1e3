// AAE tracker: PageView, AddToCart (CTA clicks), Purchase, custom events,
// Engagement and (VITALS builds) WebVitals for statically generated landing
// pages, behind one consent gate (consent.js). Placed at the end of <body>; its settings come from the data-*
// attributes of its tag and of the page's [data-aae-page] marker
// (settings.js).
//
// Hard rule: the tracker must never break or spam the page it runs on, so
// every entry point swallows its errors and nothing is ever logged as an
// error (only console.warn for a purchase with bad arguments, and
// console.info in debug mode).
//
// Load-path rule: running this script only reads its own tag and adds
// listeners. Everything else (deciding whether this page may send, the
// cookie, storage, the network) happens when the browser is idle after the
// load (within 1 s), or right away when the page is hidden.
import * as checkout from "./checkout.js";
import * as clicks from "./clicks.js";
import { consent, decide, setup } from "./consent.js";
import * as custom from "./custom.js";
import { debugMode } from "./debug.js";
import * as engagement from "./engagement.js";
import { setVariant } from "./events.js";
import * as pageviews from "./pageviews.js";
import { declared, purchase } from "./purchase.js";
import { tag } from "./settings.js";
import { noCookie } from "./session.js";
import { flush, start } from "./transport.js";
import { doc, gpc, KEEP, later, load, LOCAL, on, perTab, safe, win } from "./util.js";
import * as vitals from "./vitals.js";

// Loopback hosts: a `mkdocs serve` preview, a local collector.
function loopback(url) {
  return /^(localhost|127(\.\d+){3}|\[::1\])$|\.localhost$/.test(url.hostname);
}

safe(() => {
  var cfg = (tag(doc.currentScript) || doc).dataset;
  var api = win.AAE_TRACKING;
  var queued;
  var started;
  var replay = () => {
    queued.splice(0).forEach((item) => safe(item[0] == "track" ? custom.custom : purchase).apply(0, item[1]));
    declared();
  };
  var boot = safe(() => {
    // Never while prerendering: a page not yet shown is not a visit.
    if (!started && !doc.prerendering) {
      started = 1;
      var endpoint = new URL(cfg.endpoint, location.href);
      // Only real web pages of a secure context send anything: not a saved
      // copy opened from file: (its URL names local folders), not plain
      // http: (no secure cookies), not a loopback preview sending to a
      // remote collector (previews never reach production numbers), not a
      // browser driven by automation unless the site asks for it, and not a
      // browser whose owner excluded it for good:
      // localStorage.setItem("aae_ignore", "true"), and (unless the site
      // keeps first-party measurement under it: gpc: first-party) not a
      // browser sending Global Privacy Control.
      var why =
        !/^https?:$/.test(location.protocol) || !win.isSecureContext
          ? "not an https page"
          : loopback(location) && !loopback(endpoint)
            ? "loopback page, remote collector"
            : navigator.webdriver && !cfg.trackAutomation
              ? "automation (see track_automation)"
              : load("aae_ignore", LOCAL)
                ? "browser excluded (aae_ignore)"
                : gpc && cfg.gpc != "first-party"
                  ? "Global Privacy Control"
                  : "";
      // Consent decides the rest, for our collector and the Pixel alike.
      decide(why, endpoint.href);
      // The queued calls and declarative purchases follow each PageView.
      pageviews.landing(api, replay);
      if (VITALS) vitals.start();
      start();
    }
  });
  // Misconfigured tag: leave window.AAE_TRACKING untouched, so a correctly
  // configured tracker tag later on the page can still take over.
  if (!cfg.landingPageId || !cfg.endpoint) return;
  // Primitives (and undefined) cannot carry the API: start from scratch.
  // eslint-disable-next-line no-restricted-syntax -- == would take a String object for its primitive
  if (Object(api) !== api) api = win.AAE_TRACKING = {};
  // Run once per document: a second copy (a content swap re-running the
  // script, a tag included twice) leaves the first one in charge.
  if (api.loaded) return;
  api.loaded = true;
  debugMode(cfg);
  // A variant set and a consent choice made before the tracker ran apply
  // from the first PageView. (The stub's array itself is drained: nothing is
  // left to replay twice.)
  queued = Array.isArray(api.q) ? api.q : [];
  // The site's own query keys that sent URLs keep (query_params).
  if (cfg.queryParams) KEEP.push(...cfg.queryParams.split(" "));
  // Cookieless: no cookie, the tracker's data in sessionStorage (this tab).
  if (cfg.cookieless) {
    noCookie();
    perTab();
  }
  setup(cfg);
  queued
    .splice(0)
    .forEach((item) =>
      item[0] == "setVariant" ? setVariant(item[1][0]) : item[0] == "consent" ? consent(item[1][0]) : queued.push(item)
    );
  // Calls made before the first PageView wait, so the wire order is always
  // PageView first, and a never-shown prerender records nothing. So do calls
  // made while a client-side navigation waits for its content (the new
  // page's inline scripts): they follow the new page's PageView.
  ["track", "trackPurchase"].forEach((name) => {
    api[name] = safe(function () {
      queued.push([name, arguments]);
      if (started && !pageviews.pending()) replay();
    });
  });
  api.setVariant = safe(setVariant);
  api.consent = safe(consent);
  clicks.listen();
  custom.listen(cfg);
  if (CHECKOUT) checkout.listen(cfg, boot);
  pageviews.listen(boot);
  engagement.listen(cfg);
  var leave = (event) => {
    // A prerendered page thrown away unseen was never visited.
    if (!doc.prerendering) {
      boot();
      pageviews.settle();
      engagement.report(1);
      if (VITALS) vitals.report();
      flush(event.type == "pagehide");
    }
  };
  on(win, "pagehide", leave);
  on(doc, "visibilitychange", (event) => doc.visibilityState == "hidden" && leave(event));
  // A prerendered page is not a visit until the visitor actually opens it.
  if (doc.prerendering) on(doc, "prerenderingchange", () => later(boot), { once: true });
  else later(boot);
})();
