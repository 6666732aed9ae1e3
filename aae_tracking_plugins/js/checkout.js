// Hosted checkout hand-off (the checkout_links setting: data-checkout on the
// tracker tag, [[prefix, param], ...]). A link to a configured checkout
// (a Stripe payment link, a Shopify or Paddle checkout...) gets the visitor's
// session id as the query parameter that checkout passes back to the
// seller's server (Stripe: client_reference_id), so the seller's webhook can
// report the Purchase with the landing session (docs/checkout.md).
//
// - Decorated as the visitor follows or copies it: pointer down, click,
//   middle click, Enter, the context menu (copy link address, open in new
//   tab) and dragging it; in open shadow roots too (composedPath). A form
//   sent to a checkout gets it as it is submitted: a hidden field for GET (the
//   browser replaces the action's query with the form's fields), in the
//   action's query for POST.
// - Matched on the parsed URLs (prefixes have no query, config.py): the same
//   origin, and a path that starts with the prefix's, so
//   https://buy.stripe.com.evil.example/ or https://buy.stripe.com@evil.example/
//   never match https://buy.stripe.com/.
// - Only on a page that may send (tracker.js decides: not automation, not an
//   excluded browser, not a loopback preview sending to a remote collector)
//   and is tracked (not opted out): a page that records nothing hands no id
//   to another site either. Activating a checkout link before the tracker's
//   idle-time start starts it at once: the decision is made, and the
//   landing PageView leaves with the session id the checkout gets.
import { log } from "./debug.js";
import { sessionId } from "./session.js";
import { settings } from "./settings.js";
import { doc, on, win } from "./util.js";

var links = []; // [[prefix as a URL, param], ...]
var allowed; // whether this page may send (undefined until decided)
var boot; // starts the tracker now if it has not started yet

export function allow(ok) {
  allowed = ok;
}

// The parameter for the absolute URL `url`, when it is a checkout's.
function param(url) {
  var parsed = new URL(url);
  var link = links.find((entry) => parsed.origin == entry[0].origin && parsed.pathname.startsWith(entry[0].pathname));
  return link && link[1];
}

// `url` with name=<session id>, replacing any value it had; the rest of the
// query (as written: no re-encoding) and the fragment are kept.
function add(url, name) {
  var parts = /^([^?#]*)\??([^#]*)(.*)$/.exec(url);
  return (
    parts[1] +
    "?" +
    parts[2]
      .split("&")
      .filter((kv) => kv && kv.split("=")[0] != name)
      .concat(name + "=" + sessionId())
      .join("&") +
    parts[3]
  );
}

// Whether the page may hand the session id on (see above).
function may() {
  boot();
  return allowed && settings();
}

function activate(event) {
  var anchor =
    (event.type != "keydown" || event.key == "Enter") &&
    event.composedPath().find((element) => element.matches && element.matches("a[href],area[href]"));
  var name = anchor && param(anchor.href);
  var href = name && may() && add(anchor.href, name);
  if (href && href != anchor.href) {
    anchor.href = href;
    log("checkout link decorated", href);
  }
}

// A submit button's formaction / formmethod are not looked at: forms sent
// to a hosted checkout are rare, links are the rule.
function submit(event) {
  var form = event.target;
  var name = param(form.action);
  var input;
  if (name && may()) {
    if (form.method == "get") {
      input = form.querySelector("[data-aae-checkout]") || form.appendChild(doc.createElement("input"));
      input.type = "hidden";
      input.name = name;
      input.value = sessionId();
      input.dataset.aaeCheckout = "";
    } else {
      form.action = add(form.action, name);
    }
    log("checkout link decorated", form);
  }
}

export function listen(cfg, start) {
  boot = start;
  try {
    links = JSON.parse(cfg.checkout || "[]").map((entry) => [new URL(entry[0]), entry[1]]);
  } catch (error) {
    // Written by the build (config.py validates it): not expected.
  }
  if (links[0]) {
    "pointerdown click auxclick keydown contextmenu dragstart"
      .split(" ")
      .forEach((type) => on(doc, type, activate, true));
    on(win, "submit", submit, true);
  }
}
