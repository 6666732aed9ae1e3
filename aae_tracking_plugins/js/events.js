// Builds events for the page now and hands them to the transport (and, in
// PIXEL builds, to the Facebook Pixel).
import { matchKeys, pixel } from "./pixel.js";
import { settings } from "./settings.js";
import { send } from "./transport.js";
import { uuid } from "./util.js";

// Returns a falsy value when the page now is not tracked (nothing is sent).
// id, when given, derives the event_id from the page's settings.
export function track(type, data, id) {
  var s = settings();
  var now = new Date().toISOString();
  var params;
  if (PIXEL && s && s.px) {
    // The Pixel's own parameters for the events it knows.
    params = {};
    if (data.button_text != null) params.content_name = data.button_text;
    if (data.currency) {
      params.value = data.value;
      params.currency = data.currency;
    }
    matchKeys(data);
  }
  data.timestamp = now;
  if (s) {
    id = id ? id(s) : uuid();
    if (params) pixel([s.px, type, params, id]);
    send({
      event_type: type,
      event_id: id,
      landing_page_id: s.lp,
      campaign_id: s.c,
      session_id: "", // filled in when sent (the cookie is read off the load path)
      event_data: data,
      user_agent: navigator.userAgent,
      screen_resolution: screen.width + "x" + screen.height,
      timestamp: now
    });
  }
  return s;
}
