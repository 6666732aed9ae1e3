// Builds events for the page now and hands them to the transport.
import { settings } from "./settings.js";
import { send } from "./transport.js";
import { uuid } from "./util.js";

// Returns false when the page now is not tracked (nothing is sent).
export function track(type, data, id) {
  var s = settings();
  if (!s) return false;
  var now = new Date().toISOString();
  data.timestamp = now;
  send({
    event_type: type,
    event_id: id ? id(s) : uuid(),
    landing_page_id: s.lp,
    campaign_id: s.c,
    session_id: null, // filled in when sent (the cookie is read off the load path)
    event_data: data,
    user_agent: navigator.userAgent,
    screen_resolution: screen.width + "x" + screen.height,
    timestamp: now
  });
  return true;
}
