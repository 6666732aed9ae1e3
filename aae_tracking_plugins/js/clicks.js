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
import { clean, doc, on, safe } from "./util.js";

// The composed path of an Enter/Space keydown, until it is counted; its `c`
// is set when the page turned the key into a click.
var key;

function cta(path) {
  return path.find((element) => element.matches && element.matches('.cta-button,[data-cta="true"]'));
}

// Sends what activating the element at the start of `path` means.
function count(path) {
  var element = cta(path);
  var img = element && (element.alt != null ? element : element.querySelector("img[alt]"));
  if (element)
    track("AddToCart", {
      button_text:
        clean(
          element.tagName == "INPUT"
            ? // Only button-like inputs: a text field's value is what the visitor typed.
              /^(button|submit|reset)$/i.test(element.type) && element.value
            : element.innerText || element.textContent
        ) ||
        clean(img && img.alt) ||
        clean(element.getAttribute("aria-label")) ||
        clean(element.getAttribute("title")),
      button_id: element.id || null
    });
  activated(path, 1);
}

// The composed path of an Enter/Space key event on an element that is not
// natively activatable (those get a click from the browser), when activating
// it means something.
function keyed(event) {
  var path = event.composedPath();
  return (
    /^(Enter| )$/.test(event.key) &&
    !/^(A|BUTTON|INPUT|SELECT|TEXTAREA|SUMMARY)$/.test(path[0].tagName) &&
    (cta(path) || activated(path)) &&
    path
  );
}

export function listen() {
  on(
    doc,
    "click",
    (event) => {
      var path = event.composedPath();
      if (key && key[0] == path[0]) key.c = 1; // the page turned the key into a click
      if (!event.button) count(path);
    },
    true
  );
  on(
    doc,
    "auxclick",
    (event) => {
      if (event.button == 1) count(event.composedPath());
    },
    true
  );
  on(
    doc,
    "keydown",
    (event) => {
      key = keyed(event);
    },
    true
  );
  on(
    doc,
    "keyup",
    (event) => {
      var path = keyed(event);
      var press = key;
      // After the page's own keyup handlers: one of them may click() it. The
      // press is kept in `press`: the next key may already be down by then.
      if (path && press && path[0] == press[0])
        setTimeout(
          safe(() => {
            if (!press.c) count(press);
            if (key == press) key = 0;
          })
        );
    },
    true
  );
}
