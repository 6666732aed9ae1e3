// Custom events: AAE_TRACKING.track(name, props) from page code, declarative
// markup (data-aae-event="Lead" with data-aae-prop-<key>="..." on any
// element: sent when it is clicked, or for a form when it is submitted), and
// the site's tracking plan (rules {selector, event, props} from the events
// setting, in the tracker tag's data-events).
//
// The rules match the wire contract (schema/events.schema.json): a name of
// 1-50 letters, digits and "_" that is not a standard event type; at most 20
// properties with keys of 1-40 lowercase letters, digits and "_" (not one of
// the keys the tracker fills in) and values that are text of at most 200
// characters or finite numbers. Anything else is dropped: silently, or with a
// console message in debug mode.
import { log } from "./debug.js";
import { track } from "./events.js";
import { here, on, safe, w } from "./util.js";

var rules = []; // the tracking plan: [{selector, event, props}]

// Sends the custom event `name` with the properties `props`; returns whether
// it was valid.
export function custom(name, props) {
  var data = { url: here() };
  var keys = Object.keys(Object(props));
  var why = !/^[A-Za-z]\w{0,49}$/.test(name) || /^(PageView|AddToCart|Purchase|Engagement|WebVitals)$/.test(name)
    ? "the name must be 1-50 letters, digits or _ and not a standard event"
    : props != null && typeof props != "object" ? "props must be an object"
    : keys.length > 20 ? "at most 20 properties" : "";
  keys.forEach((k) => {
    var v = props[k];
    if (!/^[a-z][a-z0-9_]{0,39}$/.test(k) || /^(url|timestamp|variant|fbp|fbc)$/.test(k)) {
      why = why || "property name " + k + ": 1-40 lowercase letters, digits or _, not url, timestamp, variant, fbp, fbc";
    } else if (typeof v == "number" ? !isFinite(v) : typeof v != "string" || v.length > 200) {
      why = why || "property " + k + ": text of at most 200 characters or a finite number";
    }
    data[k] = v;
  });
  if (why) log("custom event refused: " + why, [name, props]);
  else track(name, data);
  return !why;
}

// A declarative element's event: data-aae-prop-plan-name="pro" is the
// property plan_name (data-aae-prop-plan_name too).
function declared(el) {
  var props = {};
  for (var k in el.dataset) {
    if (/^aaeProp./.test(k)) props[k.slice(7).replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase())] = el.dataset[k];
  }
  custom(el.dataset.aaeEvent, props);
}

function matches(el, selector) {
  try {
    return el.matches(selector);
  } catch (e) {
    // Not an element, or a selector this browser does not know.
  }
}

// The custom events of an activation whose composed path is `path`: the
// innermost data-aae-event element and, per rule, the innermost element it
// matches (forms count when submitted, not when clicked). Returns whether
// there is any; sends them when `go`.
export function activated(path, go, form) {
  var any;
  var first = (selector) => path.find((el) => matches(el, selector) && (el.tagName == "FORM") == !!form);
  var el = first("[data-aae-event]");
  if (el) {
    any = 1;
    if (go) declared(el);
  }
  rules.forEach((rule) => {
    if (first(rule.selector)) {
      any = 1;
      if (go) custom(rule.event, rule.props);
    }
  });
  return any;
}

export function listen(cfg) {
  try {
    rules = [].concat(JSON.parse(cfg.events || "[]"));
  } catch (e) {
    log("the tracking plan in data-events is not valid JSON");
  }
  // Bubble phase on window: after the page's own submit handlers, so a
  // submission they cancel (e.preventDefault(): validation, a submit sent
  // by the page itself) is known. Checked after the event has run its
  // course: a later handler may still cancel it.
  on(w, "submit", (e) => {
    var path = e.composedPath();
    setTimeout(safe(() => e.defaultPrevented ? activated(path) && log("form submission cancelled by the page: not counted") : activated(path, 1, 1)));
  });
}
