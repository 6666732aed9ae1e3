// AddToCart: every way a visitor activates a CTA counts exactly once.
//
// - click (primary button, modifier clicks, and the click browsers synthesize
//   for Enter on links/buttons and Space on buttons);
// - auxclick with the middle button (opening a link in a new tab fires no
//   click); right-click (button 2) never counts;
// - Enter/Space on a CTA that is not natively activatable (role=button div):
//   counted after keyup unless the page turned the key into a click itself;
// - inside open shadow roots: composedPath() sees through the boundary that
//   re-targets event.target to the host.
// Delegated capture-phase listeners cover CTAs added later and page handlers
// that stop propagation.
import { track } from "./events.js";
import { d, on } from "./util.js";

var key; // the CTA an Enter/Space keydown is on, until it is counted

function cta(e) {
  return e.composedPath().find((el) => el.matches && el.matches('.cta-button,[data-cta="true"]'));
}

// Up to 200 characters (code points: never half of a surrogate pair).
function clean(s) {
  return Array.from((s || "").replace(/\s+/g, " ").trim()).slice(0, 200).join("");
}

function count(el) {
  var img = el && (el.alt != null ? el : el.querySelector("img[alt]"));
  if (el) track("AddToCart", {
    button_text: clean(el.tagName == "INPUT"
      // Only button-like inputs: a text field's value is what the visitor typed.
      ? /^(button|submit|reset)$/i.test(el.type) && el.value
      : el.innerText || el.textContent) ||
      clean(img && img.alt) || clean(el.getAttribute("aria-label")) || clean(el.getAttribute("title")),
    button_id: el.id || null
  });
}

// The CTA of an Enter/Space key event on an element that is not natively
// activatable (those get a click from the browser).
function keyed(e) {
  return /^(Enter| )$/.test(e.key) &&
    !/^(A|BUTTON|INPUT|SELECT|TEXTAREA|SUMMARY)$/.test(e.composedPath()[0].tagName) && cta(e);
}

export function listen() {
  on(d, "click", (e) => {
    var el = cta(e);
    if (el == key) key = 0; // the page turned the key into a click
    if (!e.button) count(el);
  }, true);
  on(d, "auxclick", (e) => {
    if (e.button == 1) count(cta(e));
  }, true);
  on(d, "keydown", (e) => {
    key = keyed(e);
  }, true);
  on(d, "keyup", (e) => {
    var el = keyed(e);
    // After the page's own keyup handlers: one of them may click() it.
    if (el && el == key) setTimeout(() => {
      if (el == key) count(el);
      key = 0;
    });
  }, true);
}
