// Live updates of the stored collector's dashboard (collector/dashboard.py), built
// into static/dashboard.min.js by scripts/build_js.mjs. Not part of the tracker.
//
// The page embeds its live part in <main id="panels" data-panels-url data-poll-ms
// data-etag>. Every data-poll-ms this asks data-panels-url again with
// If-None-Match: the server answers 304 when nothing changed (a few hundred bytes)
// or 200 with the new HTML, which replaces the old. Polling stops while the tab
// is hidden and resumes (with one request at once) when it is shown again.
// docs/collector.md ("Dashboard") says why polling and not server-sent events.

function replaceContent(target, html) {
  // The server escaped every value (Jinja2 autoescape); DOMParser builds the
  // nodes without running scripts, and the page's CSP allows none inline anyway.
  var parsed = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
  target.textContent = "";
  while (parsed.body.firstChild) target.appendChild(parsed.body.firstChild);
}

function statusText(status) {
  if (status == 401 || status == 403) return "Not allowed: open the page again with ?token=";
  return "Offline: retrying";
}

export function start(doc) {
  var panels = doc.getElementById("panels");
  var live = doc.getElementById("live");
  if (!panels || !live || !window.fetch || !window.DOMParser) return;
  var url = panels.getAttribute("data-panels-url");
  var delay = Number(panels.getAttribute("data-poll-ms")) || 2000;
  var etag = panels.getAttribute("data-etag") || "";
  var timer = 0;
  var busy = false;

  function show(text, state) {
    live.textContent = text;
    live.setAttribute("data-state", state);
  }

  function poll() {
    clearTimeout(timer);
    if (busy || doc.hidden) return;
    busy = true;
    fetch(url, { headers: { "If-None-Match": etag }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status == 304) return null;
        if (!response.ok) throw response.status;
        etag = response.headers.get("ETag") || "";
        return response.text();
      })
      .then(
        function (html) {
          if (html != null) replaceContent(panels, html);
          panels.setAttribute("data-etag", etag);
          show("Live", "live");
        },
        function (status) {
          show(statusText(status), "offline");
        }
      )
      .then(next, next);
  }

  function next() {
    busy = false;
    timer = setTimeout(poll, delay);
  }

  doc.addEventListener("visibilitychange", function () {
    if (!doc.hidden) poll();
  });
  poll();
}

start(document);
