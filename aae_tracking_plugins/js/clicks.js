// AddToCart: every way a visitor activates a CTA counts exactly once.
//
// - click (primary button, modifier clicks, and the click browsers synthesize
//   for Enter on links/buttons and Space on buttons);
// - auxclick with the middle button (opening a link in a new tab fires no
//   click); right-click (button 2) never counts;
// - Enter/Space on a CTA that is not natively activatable (role=button div):
//   counted at keyup unless the page turned the key into a click itself;
// - inside open shadow roots: composedPath() sees through the boundary that
//   re-targets event.target to the host.
// One delegated capture-phase listener per event type covers CTAs added later
// and page handlers that stop propagation.
import { track } from "./events.js";
import { d, safe } from "./util.js";

var CTA = '.cta-button, [data-cta="true"]';
var key; // the CTA an Enter/Space keydown is on, until it is counted

function cta(e) {
  var path = e.composedPath ? e.composedPath() : [e.target];
  for (var i = 0; i < path.length; i++) {
    if (path[i].matches && path[i].matches(CTA)) return path[i];
  }
}

// Up to 200 characters (code points, never half of a surrogate pair).
function clean(s) {
  return Array.from(String(s || "").replace(/\s+/g, " ").trim()).slice(0, 200).join("");
}

function label(el) {
  var img = el.alt != null ? el : el.querySelector("img[alt]");
  return clean(el.tagName == "INPUT"
    // Only button-like inputs: a text field's value is what the visitor typed.
    ? /^(button|submit|reset)$/i.test(el.type) && el.value
    : el.innerText || el.textContent) ||
    clean(img && img.alt) || clean(el.getAttribute("aria-label")) || clean(el.getAttribute("title"));
}

function count(el) {
  if (el) track("AddToCart", { button_text: label(el), button_id: el.id || null });
}

export function listen() {
  d.addEventListener("click", safe((e) => {
    var el = cta(e);
    if (el == key) key = 0; // the page turned the key into a click
    if (!e.button) count(el);
  }), true);
  d.addEventListener("auxclick", safe((e) => {
    if (e.button == 1) count(cta(e));
  }), true);
  var keys = (e) => (e.key == "Enter" || e.key == " ") &&
    !/^(A|BUTTON|INPUT|SELECT|TEXTAREA|SUMMARY)$/.test(e.composedPath()[0].tagName) && cta(e);
  d.addEventListener("keydown", safe((e) => {
    key = keys(e) || 0;
  }), true);
  d.addEventListener("keyup", safe((e) => {
    var el = keys(e);
    // After the page's own keyup handlers: one of them may click() it.
    if (el && el == key) setTimeout(safe(() => {
      if (el == key) count(el);
      key = 0;
    }));
  }), true);
}
