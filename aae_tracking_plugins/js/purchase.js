// Purchase: from AAE_TRACKING.trackPurchase({value, currency, order_id}) or
// declaratively from <div data-aae-purchase data-aae-value="75.5"
// data-aae-currency="GBP" data-aae-order-id="A-1" hidden></div>.
// An order is counted once per browser (a reloaded thank-you page does not
// count it again), and its event_id is derived from the landing page and the
// order id, so a second send anywhere is recognisably the same event.
import { track } from "./events.js";
import { d, load, store, warn } from "./util.js";

var ORDERS = "_aae_orders";

export function purchase(o) {
  if (Object(o) !== o) return warn("trackPurchase() expects {value, currency, order_id}");
  var raw = o.value;
  // Only numbers and numeric strings: Number(null) or Number("") would
  // silently record a purchase worth 0.
  var value = typeof raw == "number" || (typeof raw == "string" && raw.trim()) ? +raw : NaN;
  var currency = typeof o.currency == "string" ? o.currency.trim().toUpperCase() : "";
  var id = o.order_id;
  id = id == null ? null : String(id);
  if (!(value >= 0 && value < Infinity) || !/^[A-Z]{3}$/.test(currency) ||
      id !== null && !(/^(string|number)$/.test(typeof o.order_id) && id && id.length <= 128)) {
    return warn("purchase not tracked: needs value >= 0, a 3-letter currency and an order_id of 1-128 characters (got " +
      JSON.stringify([raw, o.currency, o.order_id]) + ")");
  }
  var orders = load(ORDERS);
  if (!Array.isArray(orders)) orders = [];
  if (id !== null && orders.indexOf(id) >= 0) return;
  if (track("Purchase", { value: value, currency: currency, order_id: id },
    id !== null && ((s) => "purchase:" + s.lp + ":" + id)) && id !== null) {
    store(ORDERS, orders.concat(id).slice(-50));
  }
}

// Declarative purchases in the page now (also after a content swap).
export function declared() {
  d.querySelectorAll("[data-aae-purchase]").forEach((el) => {
    if (el.aaeDone) return;
    el.aaeDone = 1;
    var o = el.dataset;
    purchase({ value: o.aaeValue, currency: o.aaeCurrency, order_id: o.aaeOrderId });
  });
}
