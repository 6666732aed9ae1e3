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
// characters (code points, as the schema and the build-time check count) or
// finite numbers. Anything else is dropped: silently, or with a
// console message in debug mode (docs/custom-events.md lists the rules).
import { log } from "./debug.js";
import { track } from "./events.js";
import { doc, here, on, safe, win } from "./util.js";

var rules = []; // the tracking plan: [{selector, event, props}]

// Sends the custom event `name` with the properties `props`.
export function custom(name, props) {
  var data = { url: here() };
  var keys = Object.keys(Object(props));
  var why =
    typeof name != "string" ||
    !/^[A-Za-z]\w{0,49}$/.test(name) ||
    /^(PageView|AddToCart|Purchase|Engagement|WebVitals)$/.test(name)
      ? "name"
      : props != null && typeof props != "object"
        ? "props"
        : keys.length > 20
          ? "props (over 20)"
          : "";
  keys.forEach((key) => {
    var value = props[key];
    why =
      why ||
      (!/^[a-z][a-z0-9_]{0,39}$/.test(key) || /^(url|timestamp|variant|fbp|fbc)$/.test(key)
        ? "key " + key
        : (typeof value == "number" ? !isFinite(value) : typeof value != "string" || [...value].length > 200) &&
          "value of " + key);
    data[key] = value;
  });
  if (why) log("custom event dropped, invalid " + why, [name, props]);
  else track(name, data);
}

// A declarative element's event: data-aae-prop-plan-name="pro" is the
// property plan_name (data-aae-prop-plan_name too).
function declared(element) {
  var props = {};
  for (var attribute of element.attributes) {
    var key = /^data-aae-prop-(.+)/.exec(attribute.name);
    if (key) props[key[1].replace(/-/g, "_")] = attribute.value;
  }
  custom(element.dataset.aaeEvent, props);
}

// The custom events of an activation whose composed path is `path`: the
// innermost data-aae-event element and, per rule, the innermost element it
// matches (forms count when submitted, not when clicked). Returns whether
// there is any; sends them when `go`.
export function activated(path, go, form) {
  var any;
  // Shadow roots, the document and the window have no matches().
  var first = (selector) =>
    path.find((element) => element.matches && element.matches(selector) && (element.tagName == "FORM") == !!form);
  var element = first("[data-aae-event]");
  if (element) {
    any = 1;
    if (go) declared(element);
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
    // Rules whose selector this browser cannot parse are left out, alone.
    rules = [].concat(JSON.parse(cfg.events || "[]")).filter((rule) => {
      try {
        return !doc.createDocumentFragment().querySelector(rule.selector);
      } catch (error) {
        log("rule skipped: selector unsupported", rule);
      }
    });
  } catch (error) {
    log("data-events: not JSON");
  }
  // Capture phase on window: first, so a page handler that stops the
  // event cannot hide the submission. Whether a handler cancelled it
  // (event.preventDefault(): validation, a form the page sends itself) is known
  // once the event has run its course.
  on(
    win,
    "submit",
    (event) => {
      var path = event.composedPath();
      setTimeout(
        safe(() =>
          event.defaultPrevented
            ? activated(path, 0, 1) && log("submit cancelled by the page: not counted", path[0])
            : activated(path, 1, 1)
        )
      );
    },
    true
  );
}
