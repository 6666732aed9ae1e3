// Loaded first in every page of the engine test site (tests/browser/test_engines.py): records
// uncaught errors and unhandled promise rejections in sessionStorage, so they survive navigations
// within the tab and the test reads them all at the end, in every engine (WebDriver classic, used
// for WebKitGTK, has no page-error events).
/* global window, sessionStorage, location */
(function () {
  var KEY = "engine_test_errors";
  function record(text) {
    try {
      var seen = JSON.parse(sessionStorage.getItem(KEY) || "[]");
      seen.push(location.pathname + ": " + text);
      sessionStorage.setItem(KEY, JSON.stringify(seen));
    } catch {
      // storage unavailable: nothing to record into
    }
  }
  window.addEventListener("error", function (event) {
    record("error: " + event.message + " (" + event.filename + ":" + event.lineno + ")");
  });
  window.addEventListener("unhandledrejection", function (event) {
    record("unhandledrejection: " + String(event.reason));
  });
})();
