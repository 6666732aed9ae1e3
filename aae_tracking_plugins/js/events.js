// Builds events for the page now and hands them to the transport (and, in
// PIXEL builds, to the Facebook Pixel).
import { log, off } from "./debug.js";
import { matchKeys, pixel } from "./pixel.js";
import { settings } from "./settings.js";
import { send } from "./transport.js";
import { campaign, utm } from "./utm.js";
import { gpc, uuid, win } from "./util.js";

var forced; // the variant set by AAE_TRACKING.setVariant(): wins over the page's

// setVariant(name): the A/B variant of this page's events from now on (a
// client-side experiment); null goes back to the page's own. The name follows
// the variant setting's rule; a number counts as its text (the wire wants a
// string), anything else (an object, a Symbol) is refused.
export function setVariant(name) {
  var ok = name == null || (/^(string|number)$/.test(typeof name) && /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(name));
  if (ok) forced = name == null ? name : "" + name;
  log(ok ? "variant set" : "setVariant refused (1-64 of A-Za-z0-9_.:-)", name);
}

// Sends an event of the page now; returns a falsy value when the page is not
// tracked (nothing is sent). id, when given, derives the event_id from the
// page's settings. pageSettings: the settings to use (default: the page now's).
export function track(type, data, id, pageSettings) {
  pageSettings = pageSettings || settings();
  var now = new Date().toISOString();
  var params;
  var variant = forced || (pageSettings && pageSettings.v);
  // The session's campaign (utm.js; read from the landing address when an
  // event comes before the first PageView), under keys the event does not
  // have; a custom event's up to its 20 props: url and 20 keys at most.
  if (!utm) campaign((win.AAE_TRACKING || {}).u || location.href);
  for (var key in utm) if (!(key in data) && Object.keys(data).length < 21) data[key] = utm[key];
  if (variant) data.variant = variant;
  // Under Global Privacy Control nothing goes to the Pixel, nor the keys that
  // would match the visitor there (a site's gpc: first-party keeps our own).
  if (PIXEL && pageSettings && pageSettings.px && !gpc && !/^(Engagement|WebVitals)$/.test(type)) {
    // The Pixel's own parameters for the events it knows; a custom event's
    // properties (and the variant) as its custom data.
    params = {};
    // Not the campaign either: the Pixel reads the page's address itself.
    for (key in data) if (!/^(url|referrer|button_id|order_id|utm_.*)$/.test(key)) params[key] = data[key];
    if (data.button_text != null) params.content_name = data.button_text;
    delete params.button_text;
    matchKeys(data);
  }
  data.timestamp = now;
  if (pageSettings) {
    id = id ? id(pageSettings) : uuid();
    if (params) pixel([pageSettings.px, type, params, id]);
    var event = {
      event_type: type,
      event_id: id,
      landing_page_id: pageSettings.lp,
      campaign_id: pageSettings.c,
      session_id: "", // filled in when sent (the cookie is read off the load path)
      event_data: data,
      user_agent: navigator.userAgent,
      screen_resolution: screen.width + "x" + screen.height,
      timestamp: now
    };
    log(off ? type + " not sent: " + off : type, event);
    send(event);
  } else {
    log(type + " dropped: page not tracked (opted out or no tag)", data);
  }
  return pageSettings;
}
