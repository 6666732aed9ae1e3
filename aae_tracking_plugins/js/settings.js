// Where the settings come from: markup, read again whenever they are needed.
//
// Tools that swap page content and push the address without a full load
// (Material for MkDocs' instant navigation, Turbo, pjax, swup...) keep this
// script running while the page underneath changes. So the settings of "the
// page now" are read from the markup the swap brings: the last
// [data-aae-page] marker (the MkDocs plugin puts one inside each page's
// content; "off" marks an opted-out page), else the last tracker tag. No tag
// left in the document means the page now is not tracked.
import { d } from "./util.js";

var TAG = "script[data-aae-tracking=tracker]";

function last(selector) {
  var all = d.querySelectorAll(selector);
  return all[all.length - 1];
}

// The tracker tag: the running script when the browser says so, otherwise
// (script loaders and tag managers that re-insert or defer scripts leave
// document.currentScript null) found by its marker.
export function tag(own) {
  return own && own.dataset.endpoint ? own : last(TAG);
}

// {lp, c, e, node} for the page now, or null when it is not tracked.
// node is the element the page's settings came from: when a navigation
// replaces it, the page's new content has arrived.
export function settings() {
  var t = tag();
  var node = last("[data-aae-page]") || t;
  var p = node && node.dataset;
  return p && p.aaePage !== "off" && p.landingPageId && t.dataset.endpoint
    ? { lp: p.landingPageId, c: p.campaignId || null, e: t.dataset.endpoint, node: node }
    : null;
}

export function marker() {
  return last("[data-aae-page]") || last(TAG);
}
