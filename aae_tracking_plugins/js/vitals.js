// Web Vitals of the page load (VITALS builds only: the web_vitals setting),
// docs/web-vitals.md. LCP, CLS, INP, FCP and TTFB are measured with
// PerformanceObserver by the definitions of Google's web-vitals library
// (docs/performance.md says why not the library itself) and sent once per
// page load, as one WebVitals event with the landing PageView's url and
// settings, when the page is first hidden or left. Only what the browser
// measured is sent: no INP without an interaction, no CLS outside Chromium,
// no LCP, FCP or CLS for a page loaded in a background tab.
import { track } from "./events.js";
import { landed } from "./pageviews.js";
import { doc, win } from "./util.js";

var perf = performance;
// Google's thresholds (web.dev/articles/vitals): good up to the first, poor
// above the second.
var LIMITS = { lcp: [2500, 4000], cls: [0.1, 0.25], inp: [200, 500], fcp: [1800, 3000], ttfb: [800, 1800] };
// Hidden when the tracker ran (and not prerendering): loaded in a background
// tab, its paint times say nothing about the page. (VITALS &&: other builds
// must not even read it.)
var background = VITALS && doc.visibilityState == "hidden" && !doc.prerendering;
var metrics; // metric -> value, once measuring started
var observers = []; // [observer, handler]
var sent;
var session = 0; // the current CLS session window: its sum,
var first; // its first shift
var prev; // and its last
var slowest = {}; // interactionId -> its longest event duration (ms)

function observe(type, fn, options) {
  if ((PerformanceObserver.supportedEntryTypes || []).includes(type)) {
    var observer = new PerformanceObserver((list) => list.getEntries().forEach(fn));
    observer.observe(Object.assign({ type: type, buffered: true }, options));
    observers.push([observer, fn]);
    return 1;
  }
}

// Prerendered pages count from their activation, like web-vitals does.
function since(time) {
  return Math.max(time - ((perf.getEntriesByType("navigation")[0] || {}).activationStart || 0), 0);
}

function interaction(entry) {
  if (entry.interactionId) slowest[entry.interactionId] = Math.max(slowest[entry.interactionId] || 0, entry.duration);
}

// Starts the observers (buffered: what happened before is delivered too).
export function start() {
  if (!metrics && win.PerformanceObserver) {
    metrics = {};
    if (!background) {
      observe("largest-contentful-paint", (entry) => {
        metrics.lcp = since(entry.startTime);
      });
      // CLS: the largest sum of a session window of shifts without recent
      // input, each at most 1 s after the previous and 5 s after the first.
      if (
        observe("layout-shift", (entry) => {
          if (!entry.hadRecentInput) {
            if (session && entry.startTime - prev < 1e3 && entry.startTime - first < 5e3) session += entry.value;
            else {
              session = entry.value;
              first = entry.startTime;
            }
            prev = entry.startTime;
            metrics.cls = Math.max(metrics.cls, session);
          }
        })
      )
        metrics.cls = 0;
    }
    // INP: the longest interaction, or for pages with many, the one at the
    // 98th percentile (one skipped per 50 interactions). Events of 40 ms
    // and more, and the first input whatever its duration.
    observe("event", interaction, { durationThreshold: 40 });
    observe("first-input", interaction);
  }
}

// Sends the WebVitals event, once per page load.
export function report() {
  if (metrics && !sent && landed && landed[1]) {
    sent = 1;
    // Entries the observers have not delivered yet.
    observers.forEach((observed) => observed[0].takeRecords().forEach(observed[1]));
    var nav = perf.getEntriesByType("navigation")[0];
    var fcp = perf.getEntriesByName("first-contentful-paint")[0];
    var all = Object.values(slowest).sort((left, right) => right - left);
    var data = { url: landed[0] };
    var any;
    if (fcp && !background) metrics.fcp = since(fcp.startTime);
    // web-vitals reports CLS only for pages that painted (as CrUX does).
    else delete metrics.cls;
    if (nav && nav.responseStart > 0) metrics.ttfb = since(nav.responseStart);
    if (all.length) metrics.inp = all[Math.min(all.length - 1, ((perf.interactionCount || all.length) / 50) | 0)];
    for (var name in LIMITS) {
      var value = metrics[name];
      if (value != null) {
        // Rated as sent (rounded), so the event agrees with itself.
        value = data[name] = name == "cls" ? Math.round(value * 1e4) / 1e4 : Math.round(value);
        data[name + "_rating"] =
          value > LIMITS[name][1] ? "poor" : value > LIMITS[name][0] ? "needs-improvement" : "good";
        any = 1;
      }
    }
    if (any) track("WebVitals", data, 0, landed[1]);
  }
}
