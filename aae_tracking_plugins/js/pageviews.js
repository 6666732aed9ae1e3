// PageViews: the landing, and every later address the page moves to without a
// full load (history.pushState, back/forward, a back/forward-cache restore).
//
// After a client-side navigation the page's new content may arrive later
// (Material for MkDocs pushes the address, then fetches and swaps the
// content; other routers swap first), so the PageView waits until the markup
// its settings come from is no longer the one the last PageView used, or
// until a timeout for pages that never replace it (a
// single-page app re-rendering around a fixed tracker tag: 1 s; pages with
// [data-aae-page] markers, made to be swapped: 10 s). The settings are then
// read from the new markup: an opted-out or untracked page sends nothing, a
// per-page campaign is honoured.
import { viewed } from "./engagement.js";
import { track } from "./events.js";
import { marker, settings } from "./settings.js";
import { campaign } from "./utm.js";
import { doc, here, on, safe, win } from "./util.js";

var last; // URL of the last PageView: the next one's referrer
var seen; // pathname + search of the last PageView or navigation
var wait; // ends the pending navigation's wait
var onView; // called after each PageView (declarative purchases)
var node; // the element the last PageView's settings came from
var boot; // starts the tracker now if it has not started yet
export var landed; // [url, settings] of the landing PageView

function view(url, referrer) {
  // Settings read once, before the PageView: the Engagement of the page
  // view this one ends goes first, and the new view keeps them for its own.
  var pageSettings = settings();
  viewed(url, pageSettings);
  // A tracked page view's campaign, after the Engagement of the one before.
  if (pageSettings) campaign(url);
  track("PageView", { url: url, referrer: referrer && here(referrer) }, 0, pageSettings);
  last = url;
  node = marker();
  onView();
  return pageSettings;
}

// The first PageView: the address the visitor arrived with, as the head stub
// captured it before any page script could tidy it.
export function landing(api, then) {
  var url = here(api.u);
  onView = then;
  // As the address bar has it (navigated() compares), not as it is sent.
  seen = (api.u || location.href).replace(/^.*?\/\/[^/]*|#.*/g, "");
  landed = [url, view(url, api.u ? api.r : doc.referrer)];
}

// Whether a client-side navigation is waiting for its new content.
export function pending() {
  return wait;
}

// Ends a pending navigation's wait and sends its PageView.
export function settle() {
  if (wait) {
    wait();
    wait = 0;
    view(here(), last);
  }
}

function navigated() {
  var path = location.pathname + location.search;
  // A navigation before the tracker's idle-time start: start now, so the
  // landing PageView goes out with the landing page's settings, before the
  // new content replaces them.
  boot();
  // Hash-only changes and pushState to the same URL are not new pages.
  // (replaceState is not hooked: it typically just tidies the URL.)
  if (path != seen && onView) {
    seen = path;
    settle(); // a navigation still waiting is sent as it stands
    // Content swapped before the address changed: it is here already.
    if (marker() != node) return view(here(), last);
    var observer = new MutationObserver(safe(() => marker() != node && settle()));
    var timer = setTimeout(safe(settle), node && node.tagName != "SCRIPT" ? 1e4 : 1e3);
    observer.observe(doc.documentElement, { childList: true, subtree: true });
    wait = () => {
      observer.disconnect();
      clearTimeout(timer);
    };
  }
}

export function listen(start) {
  var push = history.pushState;
  boot = start;
  history.pushState = function () {
    // The page's own errors (e.g. a cross-origin URL) must still reach it.
    var result = push.apply(this, arguments);
    safe(navigated)();
    return result;
  };
  on(win, "popstate", navigated);
  // Back/forward cache: the page is shown again without running any script,
  // but it is a new visit to it.
  on(win, "pageshow", (event) => event.persisted && onView && view(here(), doc.referrer));
}
