"""The Pixel in the browser tests: our Pixel id, fbevents.js's URL and a stand-in for fbevents.js.

The stand-in is served in place of fbevents.js (the tests route its URL): it records every
``fbq`` call, from the queue and from then on, in ``window.__fbq`` and sets the ``_fbp`` cookie.
"""

from __future__ import annotations

PIXEL_ID = "1234567890123"
FBEVENTS = "https://connect.facebook.net/en_US/fbevents.js"
FBP = "fb.1.1700000000000.987654321"

#: Stands in for fbevents.js: records calls from the queue and from then on, sets _fbp.
STAND_IN = f"""
(function () {{
  var f = window.fbq;
  window.__fbq = [];
  window.__fbqLoads = (window.__fbqLoads || 0) + 1;
  document.cookie = "_fbp={FBP}; path=/; samesite=lax";
  f.callMethod = function () {{
    window.__fbq.push(JSON.parse(JSON.stringify(Array.prototype.slice.call(arguments))));
  }};
  (f.queue || []).forEach(function (args) {{ f.callMethod.apply(f, args); }});
  f.queue = [];
}})();
"""
