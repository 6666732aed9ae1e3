// Clicks: AddToCart for CTAs, and custom events for data-aae-event elements
// and the tracking plan's rules (custom.js). Every way a visitor activates an
// element counts exactly once:
//
// - click (primary button, modifier clicks, and the click browsers synthesize
//   for Enter on links/buttons and Space on buttons);
// - auxclick with the middle button (opening a link in a new tab fires no
//   click); right-click (button 2) never counts;
// - Enter/Space on an element that is not natively activatable (role=button
//   div): counted after keyup unless the page turned the key into a click;
// - inside open shadow roots: composedPath() sees through the boundary that
//   re-targets event.target to the host.
// Delegated capture-phase listeners cover elements added later and page
// handlers that stop propagation.
import { activated } from "./custom.js";
import { track } from "./events.js";
import { d, on, safe } from "./util.js";

var key; // the composed path of an Enter/Space keydown, until it is counted

function cta(path) {
  return path.find((el) => el.matches && el.matches('.cta-button,[data-cta="true"]'));
}

// Up to 200 characters (code points: never half of a surrogate pair).
function clean(s) {
  return Array.from((s || "").replace(/\s+/g, " ").trim()).slice(0, 200).join("");
}

// Sends what activating the element at the start of `path` means.
function count(path) {
  var el = cta(path);
  var img = el && (el.alt != null ? el : el.querySelector("img[alt]"));
  if (el) track("AddToCart", {
    button_text: clean(el.tagName == "INPUT"
      // Only button-like inputs: a text field's value is what the visitor typed.
      ? /^(button|submit|reset)$/i.test(el.type) && el.value
      : el.innerText || el.textContent) ||
      clean(img && img.alt) || clean(el.getAttribute("aria-label")) || clean(el.getAttribute("title")),
    button_id: el.id || null
  });
  activated(path, 1);
}

// The composed path of an Enter/Space key event on an element that is not
// natively activatable (those get a click from the browser), when activating
// it means something.
function keyed(e) {
  var path = e.composedPath();
  return /^(Enter| )$/.test(e.key) &&
    !/^(A|BUTTON|INPUT|SELECT|TEXTAREA|SUMMARY)$/.test(path[0].tagName) && (cta(path) || activated(path)) && path;
}

export function listen() {
  on(d, "click", (e) => {
    var path = e.composedPath();
    if (key && key[0] == path[0]) key.c = 1; // the page turned the key into a click
    if (!e.button) count(path);
  }, true);
  on(d, "auxclick", (e) => {
    if (e.button == 1) count(e.composedPath());
  }, true);
  on(d, "keydown", (e) => {
    key = keyed(e);
  }, true);
  on(d, "keyup", (e) => {
    var path = keyed(e);
    var k = key;
    // After the page's own keyup handlers: one of them may click() it. The
    // press is kept in k: the next key may already be down by then.
    if (path && k && path[0] == k[0]) setTimeout(safe(() => {
      if (!k.c) count(k);
      if (key == k) key = 0;
    }));
  }, true);
}
