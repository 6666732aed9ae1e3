// Builds events for the page now and hands them to the transport.
import { settings } from "./settings.js";
import { send } from "./transport.js";
import { uuid } from "./util.js";

// Returns a falsy value when the page now is not tracked (nothing is sent).
// id, when given, derives the event_id from the page's settings.
export function track(type, data, id) {
  var s = settings();
  var now = new Date().toISOString();
  data.timestamp = now;
  if (s) send({
    event_type: type,
    event_id: id ? id(s) : uuid(),
    landing_page_id: s.lp,
    campaign_id: s.c,
    session_id: "", // filled in when sent (the cookie is read off the load path)
    event_data: data,
    user_agent: navigator.userAgent,
    screen_resolution: screen.width + "x" + screen.height,
    timestamp: now
  });
  return s;
}
