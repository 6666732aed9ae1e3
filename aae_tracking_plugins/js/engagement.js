// Engagement: one event per page view with the time the visitor was engaged
// and how far down the page they saw (docs/engagement.md).
//
// Engaged time runs while the page is visible and the visitor's last activity
// (mouse, key, wheel, touch, scroll; opening or showing the page again counts
// as one) is less than 5 s old. It is sent with the page view's url and
// settings when the page is first hidden or left with at least 1 s of it, or,
// on a client-side navigation, just before the next PageView. One event per
// page view: a view that comes back after it was sent sends nothing more.
//
// Cheap on purpose: an activity event costs a clock read and a compare, a
// scroll event at most one requestAnimationFrame that reads the position.
import { track } from "./events.js";
import { doc, on, win } from "./util.js";

var IDLE = 5e3;
var enabled;
var total = 0; // engaged ms of this page view, closed stretches
var from = 0; // the open stretch runs from its first activity...
var until = 0; // ...to 5 s after its last (both 0: none open)
var depth = 0; // the largest share of the page seen so far, 0-100
var frame; // a depth reading is scheduled
var page; // [url, settings] of this page view
var sent;

function engaged() {
  return total + Math.max(0, Math.min(performance.now(), until) - from);
}

function act(event) {
  var now = performance.now();
  if (now > until) {
    // The last stretch ended 5 s after its last activity: a new one.
    total += until - from;
    from = now;
  }
  until = now + IDLE;
  if (!frame && event.type == "scroll") frame = requestAnimationFrame(measure);
}

// Showing the page counts as activity; hiding it ends the open stretch
// (a no-op when none is open).
function shown() {
  if (doc.visibilityState == "visible") act(0);
  else {
    total = engaged();
    from = until = 0;
  }
}

// (scrollY + innerHeight) / scrollHeight: 100 for a page shorter than the
// window. Read in an animation frame or on leaving: layout is fresh then.
function measure() {
  frame = 0;
  depth = Math.max(
    depth,
    Math.min(100, Math.round(((scrollY + innerHeight) / doc.documentElement.scrollHeight) * 100))
  );
}

// Sends this page view's Engagement once, when it reached 1 s. leaving: the
// page is being hidden or left (its content is still this page view's).
export function report(leaving) {
  if (page && page[1] && !sent) {
    if (leaving) measure();
    var ms = Math.round(engaged());
    if (ms >= 1e3) {
      sent = 1;
      track("Engagement", { url: page[0], engaged_ms: ms, scroll_depth: depth }, 0, page[1]);
    }
  }
}

// A PageView is about to be sent for `url` with `pageSettings`: the page view
// before it (a client-side navigation) ends here, a new one begins.
export function viewed(url, pageSettings) {
  if (enabled) {
    if (page) {
      report();
      total = depth = sent = from = until = 0;
      shown();
    }
    page = [url, pageSettings];
    frame = frame || requestAnimationFrame(measure);
  }
}

// Adds the listeners, unless the site turned Engagement off (then nothing).
export function listen(cfg) {
  if (cfg.engagement != "false") {
    enabled = 1;
    "mousedown mousemove keydown wheel touchstart scroll"
      .split(" ")
      .forEach((type) => on(win, type, act, { capture: true, passive: true }));
    on(doc, "visibilitychange", shown);
    shown();
  }
}
