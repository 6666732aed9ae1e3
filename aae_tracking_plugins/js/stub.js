// AAE tracking stub: inlined early in <head> so pages can call
// AAE_TRACKING.trackPurchase() before tracker.js (end of <body>) has run.
// Calls are queued and replayed by the tracker.
(function (w) {
  // Never replace an existing object: the stub may be included twice, or the
  // tracker may already have loaded (its real trackPurchase must survive).
  if (w.AAE_TRACKING) return;
  var q = [];
  w.AAE_TRACKING = {
    q: q,
    // Uses the closure, not `this`, so a detached reference still queues.
    trackPurchase: function () {
      q.push(["trackPurchase", Array.prototype.slice.call(arguments)]);
    }
  };
})(window);
