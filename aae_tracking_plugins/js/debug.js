// Debug mode (the debug setting, or ?aae_debug=1 in the page's address):
// every event is logged to the console with why it was sent or dropped, and
// so are calls the tracker refuses. Silent otherwise: the tracker never spams
// the console of the page it runs on.
import { win } from "./util.js";

var active;
export var off; // why this page does not send: said with each of its events

// Decided once per page, from the tracker tag's settings and the landing URL
// (the head stub captured it before a page script could tidy it).
export function debugMode(cfg) {
  active = cfg.debug || /[?&]aae_debug=1(&|#|$)/.test((win.AAE_TRACKING || {}).u + location.search);
}

// console.info("aae-tracking: " + what, detail) in debug mode.
export function log(what, detail) {
  if (active) {
    try {
      console.info("aae-tracking: " + what, detail == null ? "" : detail);
    } catch (error) {
      // No console (or a hostile one): stay silent.
    }
  }
}

// Where the page's events go, or why they do not ("" when they do).
export function sending(why, to) {
  off = why;
  log(why ? "not sending: " + why : "sending to " + to);
}
