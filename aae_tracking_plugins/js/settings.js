// Where the settings come from: markup, read again whenever they are needed.
//
// Tools that swap page content and push the address without a full load
// (Material for MkDocs' instant navigation, Turbo, pjax, swup...) keep this
// script running while the page underneath changes. So the settings of "the
// page now" are read from the markup the swap brings: the last
// [data-aae-page] marker (the MkDocs plugin puts one inside each page's
// content; "off" marks an opted-out page), else the last tracker tag. No tag
// left in the document means the page now is not tracked.
import { doc } from "./util.js";

function last(selector) {
  var all = doc.querySelectorAll(selector);
  return all[all.length - 1];
}

// The tracker tag: the running script when the browser says so, otherwise
// (script loaders and tag managers that re-insert or defer scripts leave
// document.currentScript null) the last one found by its marker.
export function tag(own) {
  return own && own.dataset.endpoint ? own : last("script[data-aae-tracking=tracker]");
}

// The element the page's settings come from: when a navigation replaces it,
// the page's new content has arrived.
export function marker() {
  return last("[data-aae-page]") || tag();
}

// {lp, c, v[, px]} for the page now, or a falsy value when it is not tracked.
// v: the page's A/B variant; px: its Facebook Pixel id (PIXEL builds only).
export function settings() {
  var dataset = tag() ? marker().dataset : {};
  var pageSettings = dataset.aaePage != "off" &&
    dataset.landingPageId && { lp: dataset.landingPageId, c: dataset.campaignId || null, v: dataset.variant };
  if (PIXEL && pageSettings) pageSettings.px = dataset.facebookPixelId;
  return pageSettings;
}
