// Purchase: from AAE_TRACKING.trackPurchase({value, currency, order_id}) or
// declaratively from <div data-aae-purchase data-aae-value="75.5"
// data-aae-currency="GBP" data-aae-order-id="A-1" hidden></div>.
// An order is counted once per browser (a reloaded thank-you page does not
// count it again), and its event_id is derived from the landing page and the
// order id, so a second send anywhere is recognisably the same event.
import { track } from "./events.js";
import { d, load, store } from "./util.js";

export function purchase(o) {
  var value = o.value;
  var currency = String(o.currency).trim().toUpperCase();
  var id = o.order_id;
  var orders = [].concat(load("_aae_orders") || []);
  // Only numbers and numeric strings: Number(null) or Number("") would
  // silently record a purchase worth 0.
  value = typeof value == "number" || value && typeof value == "string" && value.trim() ? +value : -1;
  id = /^(string|number)$/.test(typeof id) && String(id);
  if (!(value >= 0 && value < Infinity && /^[A-Z]{3}$/.test(currency) &&
      (o.order_id == null || id && id.length < 129))) {
    try {
      console.warn("aae-tracking: purchase not tracked (see docs/purchase.md): " + JSON.stringify(o));
    } catch (e) {
      // No console (or a hostile one): stay silent.
    }
  } else if (!(id && orders.indexOf(id) >= 0) &&
      track("Purchase", { value: value, currency: currency, order_id: id || null },
        id && ((s) => "purchase:" + s.lp + ":" + id)) && id) {
    store("_aae_orders", orders.concat(id).slice(-50));
  }
}

// Declarative purchases in the page now (also after a content swap).
export function declared() {
  d.querySelectorAll("[data-aae-purchase]").forEach((el) => {
    var o = el.dataset;
    if (!el.aaeDone) purchase({ value: o.aaeValue, currency: o.aaeCurrency, order_id: o.aaeOrderId });
    el.aaeDone = 1;
  });
}
