// AAE tracker: PageView, AddToCart (CTA clicks) and Purchase events for
// statically generated landing pages. Inlined at the end of <body>; the config
// comes from the data-* attributes of its own <script> tag.
//
// Hard rule: the tracker must never break or spam the page it runs on, so
// every entry point swallows its errors and nothing is ever logged as an
// error (only console.warn for a trackPurchase() call with bad arguments).
(function (w, d) {
  "use strict";

  var CTA = '.cta-button, [data-cta="true"]';
  var SID_RE = /^sess_\d+_[a-z0-9]+$/;

  function noop() {}

  // Wraps an entry point (event handler, public API) so it cannot throw.
  function safe(fn) {
    return function () {
      try {
        fn.apply(this, arguments);
      } catch (e) {
        // Swallowed on purpose: see the hard rule above.
      }
    };
  }

  function clean(s) {
    return String(s || "").replace(/\s+/g, " ").trim().slice(0, 200);
  }

  function warn(msg) {
    try {
      console.warn("aae-tracking: " + msg);
    } catch (e) {
      // No console (or a hostile one): stay silent.
    }
  }

  var lp, endpoint, campaign, api, q; // set by init (bottom)
  var sid; // session id, created lazily by the first event
  var started = false; // initial PageView sent (page visible and ready)
  var lastPath; // pathname + search of the last PageView

  function sessionId() {
    if (sid) return sid;
    var m;
    try {
      m = /(?:^|;\s*)_aae_sid=([^;]*)/.exec(d.cookie);
    } catch (e) {
      // Sandboxed iframe: document.cookie throws. Fall back to memory.
    }
    sid = m && SID_RE.test(m[1])
      ? m[1]
      : "sess_" + Date.now() + "_" +
        // 16 chars x 5 bits from the CSPRNG; & 31 keeps it bias-free.
        Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b & 31).toString(32)).join("");
    try {
      // Rewritten on every page load: 30-day sliding expiry. First-party,
      // host-only. If cookies are disabled this is a no-op and the in-memory
      // id is used for this page.
      d.cookie = "_aae_sid=" + sid + "; max-age=2592000; path=/; samesite=lax" +
        (location.protocol === "https:" ? "; secure" : "");
    } catch (e) {
      // See above.
    }
    return sid;
  }

  function send(type, data) {
    try {
      var now = new Date().toISOString();
      data.timestamp = now;
      var body = JSON.stringify({
        event_type: type,
        landing_page_id: lp,
        campaign_id: campaign,
        session_id: sessionId(),
        event_data: data,
        user_agent: navigator.userAgent,
        screen_resolution: screen.width + "x" + screen.height,
        timestamp: now
      });
      // A plain string body is sent as text/plain: a CORS "simple" request,
      // so no preflight. sendBeacon also survives page unload.
      try {
        if (navigator.sendBeacon(endpoint, body)) return;
      } catch (e) {
        // Missing or refused sendBeacon: fall through to fetch.
      }
      fetch(endpoint, {
        method: "POST",
        body: body,
        keepalive: true,
        mode: "no-cors",
        credentials: "omit",
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      }).catch(noop); // collector down: not the page's problem
    } catch (e) {
      // See the hard rule.
    }
  }

  function pageView() {
    var path = location.pathname + location.search;
    // Hash-only changes and pushState to the same URL are not new pages.
    // (replaceState is not hooked: it typically just tidies the URL.)
    if (path === lastPath) return;
    lastPath = path;
    send("PageView", { url: location.href.split("#")[0], referrer: d.referrer });
  }

  function purchase(args) {
    var o = args && args[0];
    if (Object(o) !== o) {
      warn("trackPurchase() expects an object {value, currency, order_id}");
      return;
    }
    var raw = o.value;
    var errors = [];
    // Only numbers and numeric strings: Number(null) or Number("") would
    // silently record a purchase worth 0.
    var value = typeof raw === "number" || (typeof raw === "string" && raw.trim())
      ? Number(raw)
      : NaN;
    if (!(value >= 0 && value < Infinity)) {
      errors.push("value must be a finite number >= 0 (got " + String(raw) + ")");
    }
    var currency = typeof o.currency === "string" ? o.currency.trim() : "";
    if (!/^[a-z]{3}$/i.test(currency)) {
      errors.push("currency must be a 3-letter code like \"EUR\" (got " + String(o.currency) + ")");
    }
    var id = o.order_id;
    if (id != null && !((typeof id === "string" || typeof id === "number") &&
        String(id).length > 0 && String(id).length <= 128)) {
      errors.push("order_id must be text or a number, 1-128 characters (got " + String(id) + ")");
    }
    if (errors.length) {
      warn("purchase not tracked: " + errors.join("; "));
      return;
    }
    id = id == null ? null : String(id);
    // A reloaded (or re-opened) confirmation page must not count the order twice.
    if (id !== null && alreadySent(id)) return;
    send("Purchase", {
      value: value,
      currency: currency.toUpperCase(),
      order_id: id
    });
  }

  // Remembers the last order ids sent from this browser (localStorage; if it is
  // unavailable every call counts, which is the safe side for a visitor).
  function alreadySent(id) {
    var key = "_aae_orders";
    try {
      var seen = JSON.parse(localStorage.getItem(key) || "[]");
      if (!Array.isArray(seen)) seen = [];
      if (seen.indexOf(id) >= 0) return true;
      seen.push(id);
      localStorage.setItem(key, JSON.stringify(seen.slice(-50)));
    } catch (e) {
      // Storage blocked or full: send anyway.
    }
    return false;
  }

  // Replays queued calls in order. Each item is isolated so one bad call
  // cannot drop the ones after it.
  function drain() {
    while (q.length) {
      var item = q.shift();
      if (item && item[0] === "trackPurchase") safe(purchase)(item[1]);
    }
  }

  // The real trackPurchase. Calls made before the initial PageView (inline
  // scripts further down the page, or while prerendering) are queued too, so
  // the wire order is always PageView first and a never-shown prerender
  // records nothing.
  var trackPurchase = safe(function () {
    q.push(["trackPurchase", [].slice.call(arguments)]);
    if (started) drain();
  });

  var start = safe(() => {
    if (started) return;
    started = true;
    pageView();
    drain();
  });

  var whenReady = safe(() => {
    if (d.readyState !== "loading") start();
    else d.addEventListener("DOMContentLoaded", start);
  });

  // SPA-style navigations. Ignored until the initial PageView went out.
  var navigated = safe(() => {
    if (started) pageView();
  });

  try {
    // document.currentScript is only set while this script first runs (it is
    // null in any callback), so read the config right away.
    var script = d.currentScript;
    var cfg = script && script.dataset;
    lp = cfg && cfg.landingPageId;
    endpoint = cfg && cfg.endpoint;
    // Misconfigured tag: leave window.AAE_TRACKING untouched, so a correctly
    // configured tracker tag later on the page can still take over.
    if (!lp || !endpoint) return;
    campaign = cfg.campaignId || null;

    api = w.AAE_TRACKING;
    // Primitives (and undefined) cannot carry the API: start from scratch.
    if (Object(api) !== api) api = w.AAE_TRACKING = {};
    // Script executed twice: the first copy owns the page (no 2nd PageView).
    if (api.loaded) return;
    api.loaded = true;
    q = Array.isArray(api.q) ? api.q : (api.q = []);

    // No cookies and no beacons outside secure contexts (plain http://), but
    // page calls must keep working: install silent no-ops, drop the queue.
    if (!w.isSecureContext) {
      api.trackPurchase = noop;
      q.length = 0;
      return;
    }
    api.trackPurchase = trackPurchase;

    // One delegated, capture-phase listener: covers CTAs added later, clicks
    // on children (span/svg inside the button), and page handlers that call
    // stopPropagation().
    d.addEventListener("click", safe((e) => {
      var t = e.target;
      var el = t && t.closest && t.closest(CTA);
      if (!el) return;
      var text = el.tagName === "INPUT"
        // Only button-like inputs: a text field's value is user input.
        ? (/^(button|submit|reset)$/i.test(el.type) ? el.value : "")
        : el.innerText || el.textContent;
      send("AddToCart", {
        button_text: clean(text) || clean(el.getAttribute("aria-label")) || clean(el.getAttribute("title")),
        button_id: el.id || null
      });
    }), true);

    var pushState = history.pushState;
    if (typeof pushState === "function") {
      history.pushState = function () {
        // The page's own errors (e.g. a cross-origin URL) must still reach it.
        var r = pushState.apply(this, arguments);
        navigated();
        return r;
      };
    }
    w.addEventListener("popstate", navigated);
    // Back/forward cache: the page is shown again without running any script,
    // but it is a new visit to it.
    w.addEventListener("pageshow", safe((e) => {
      if (e.persisted && started) {
        lastPath = null;
        pageView();
      }
    }));

    // A prerendered page is not a visit until the user actually opens it.
    if (d.prerendering) d.addEventListener("prerenderingchange", whenReady, { once: true });
    else whenReady();
  } catch (e) {
    // See the hard rule.
  }
})(window, document);
