// Head stub, inlined (or loaded) first in <head>, ahead of every other script:
// - queues AAE_TRACKING.track(), trackPurchase(), setVariant() and consent()
//   calls made before the tracker has run;
// - captures the landing URL and referrer before any page script can tidy the
//   address bar (history.replaceState removing utm_* parameters, say).
// The tracker (end of <body>) replays the queue and uses the captured URL for
// the first PageView.
(function (win) {
  // Never replace an existing object: the stub may be included twice, or the
  // tracker may already have loaded (its real functions must survive).
  if (win.AAE_TRACKING) return;
  var queue = [];
  var api = (win.AAE_TRACKING = { q: queue, u: location.href, r: document.referrer });
  ["track", "trackPurchase", "setVariant", "consent"].forEach(function (name) {
    // Uses the closure, not `this`, so a detached reference still queues.
    api[name] = function () {
      queue.push([name, [].slice.call(arguments)]);
    };
  });
})(window);
