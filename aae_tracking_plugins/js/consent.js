// Consent: one gate for both destinations, our collector and the Facebook
// Pixel (docs/consent.md).
//
// The consent setting (data-consent on the tracker tag):
// - none (no attribute): the tracker does not ask; consent() calls are
//   ignored (logged in debug mode).
// - opt-in: until the visitor consents, events are held in memory only: no
//   request, no cookie, no storage write, the Pixel not even loaded. Granted,
//   the held events go out (the PageView first); refused, they are dropped.
// - opt-out: tracked until the visitor refuses.
// A refusal stops both destinations and removes what the tracker stored
// (retry queue, backoff, order marks, session id, campaign); the choice itself is kept
// in localStorage["aae_consent"] (true or false), the one write a refusal
// makes. Whatever the choice, a page that may not send at all (tracker.js:
// not https, automation, aae_ignore, Global Privacy Control) sends nothing.
import * as checkout from "./checkout.js";
import { log, sending } from "./debug.js";
import { allow } from "./pixel.js";
import { forget } from "./session.js";
import { setEndpoint } from "./transport.js";
import { load, LOCAL, safe, store, win, writable } from "./util.js";
import { campaign } from "./utm.js";

var KEY = "aae_consent";
var mode; // "opt-in", "opt-out", or undefined (none)
var choice; // the visitor's: true, false, or null/undefined (none made)
var why; // why this page never sends, whatever the choice ("": it may)
var url; // the collector's URL, once the tracker has started (decide)
var refused; // refused on this page: what was stored is removed

// The consent setting, read when the tracker runs; with Material for MkDocs'
// cookie consent (data-material-consent: our id in its dialog), the choice
// Material stored, read by its own __md_get: {id: true} for each box the
// visitor left checked, under the site's scope in localStorage.
export function setup(cfg) {
  mode = cfg.consent;
  var id = cfg.materialConsent;
  var checked = id && safe(() => win.__md_get("__consent"))();
  if (checked) consent(!!checked[id]);
}

// AAE_TRACKING.consent(true | false): the visitor's choice (the internal
// grant/refuse path too, for consent managers the tracker follows).
export function consent(yes) {
  if (mode && typeof yes == "boolean") {
    choice = yes;
    refused = !yes;
    if (url != null) apply();
  } else log("consent ignored (consent: none, or not true/false)", yes);
}

// Called once when the tracker starts (off the load path): `reason` why
// this page may never send ("" when it may), `to` the collector's URL.
export function decide(reason, to) {
  why = reason;
  url = to;
  apply();
}

function apply() {
  if (mode) {
    // A choice made on this page is remembered; otherwise the stored one holds.
    if (choice == null) choice = load(KEY, LOCAL);
    else store(KEY, choice, LOCAL);
  }
  var wait = !why && mode == "opt-in" && choice == null;
  var off = why || (mode && choice == false ? "consent refused" : wait ? "held until consent" : "");
  sending(off, url);
  writable(!off);
  // undefined: wait (events held in memory); 0: dropped; the URL: sent.
  setEndpoint(wait ? undefined : off ? 0 : url, refused);
  if (PIXEL) allow(wait ? undefined : !off);
  if (CHECKOUT) checkout.allow(!off);
  // The campaign held in memory is stored once the page may store.
  if (!off) campaign();
  if (refused) {
    refused = 0;
    forget();
    campaign(0, 1);
    store("_aae_orders");
  }
}
