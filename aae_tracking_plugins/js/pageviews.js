// PageViews: the landing, and every later address the page moves to without a
// full load (history.pushState, back/forward, a back/forward-cache restore).
//
// After a client-side navigation the page's new content may arrive later
// (Material for MkDocs pushes the address, then fetches and swaps the
// content), so the PageView waits until the markup its settings come from
// has been replaced, or until a short timeout for pages that never swap it
// (a single-page app re-rendering around a fixed tracker tag). The settings
// are then read from that new markup: an opted-out or untracked page sends
// nothing, a per-page campaign is honoured.
import { track } from "./events.js";
import { marker } from "./settings.js";
import { d, safe, w } from "./util.js";

var last; // URL (no fragment) of the last PageView, the next one's referrer
var seen; // pathname + search of the last PageView or navigation
var wait; // the pending navigation: {node, timer, observer}
var onView; // called after each PageView (declarative purchases)

function send(url, referrer) {
  track("PageView", { url: url, referrer: referrer });
  last = url;
  onView();
}

// The first PageView: the address the visitor arrived with, as the head stub
// captured it before any page script could tidy it.
export function landing(api, then) {
  onView = then;
  var url = (api.u || location.href).split("#")[0];
  seen = url.replace(/^[^/]*\/\/[^/]*/, "");
  send(url, api.u ? api.r : d.referrer);
}

function settle() {
  if (!wait) return;
  clearTimeout(wait.timer);
  wait.observer.disconnect();
  wait = 0;
  send(location.href.split("#")[0], last || "");
}

var navigated = safe(() => {
  var path = location.pathname + location.search;
  // Hash-only changes and pushState to the same URL are not new pages.
  // (replaceState is not hooked: it typically just tidies the URL.)
  if (path == seen || !onView) return;
  seen = path;
  settle(); // a navigation still waiting is sent as it stands
  var node = marker();
  wait = {
    node: node,
    // Pages that carry [data-aae-page] markers swap content: give the fetch
    // time. Otherwise the tracker tag stays where it is, so wait briefly.
    timer: setTimeout(safe(settle), node && node.tagName != "SCRIPT" ? 1e4 : 1e3),
    observer: new MutationObserver(safe(() => {
      if (marker() != wait.node) settle();
    }))
  };
  wait.observer.observe(d.documentElement, { childList: true, subtree: true });
});

export function listen() {
  var push = history.pushState;
  history.pushState = function () {
    // The page's own errors (e.g. a cross-origin URL) must still reach it.
    var r = push.apply(this, arguments);
    navigated();
    return r;
  };
  w.addEventListener("popstate", navigated);
  // Back/forward cache: the page is shown again without running any script,
  // but it is a new visit to it.
  w.addEventListener("pageshow", safe((e) => {
    if (e.persisted && onView) send(location.href.split("#")[0], d.referrer);
  }));
  // Leaving while a navigation waits: send it as it stands.
  return settle;
}
