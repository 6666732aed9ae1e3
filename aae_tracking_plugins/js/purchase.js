// Purchase: from AAE_TRACKING.trackPurchase({value, currency, order_id}) or
// declaratively from <div data-aae-purchase data-aae-value="75.5"
// data-aae-currency="GBP" data-aae-order-id="A-1" hidden></div>.
// An order is counted once per browser (a reloaded thank-you page does not
// count it again), and its event_id is derived from the landing page and the
// order id, so a second send anywhere is recognisably the same event.
import { track } from "./events.js";
import { doc, load, store } from "./util.js";

export function purchase(order) {
  var value = order.value;
  var currency = String(order.currency).trim().toUpperCase();
  var id = order.order_id;
  var orders = [].concat(load("_aae_orders") || []);
  // Only numbers and numeric strings: Number(null) or Number("") would
  // silently record a purchase worth 0.
  value = typeof value == "number" || (value && typeof value == "string" && value.trim()) ? +value : -1;
  id = /^(string|number)$/.test(typeof id) && String(id);
  if (!(
    value >= 0 &&
    value < Infinity &&
    /^[A-Z]{3}$/.test(currency) &&
    (order.order_id == null || (id && id.length < 129))
  )) {
    try {
      console.warn("aae-tracking: purchase not tracked (see docs/purchase.md): " + JSON.stringify(order));
    } catch (error) {
      // No console (or a hostile one): stay silent.
    }
  } else if (
    !(id && orders.indexOf(id) >= 0) &&
    track(
      "Purchase",
      { value: value, currency: currency, order_id: id || null },
      id && ((pageSettings) => "purchase:" + pageSettings.lp + ":" + id)
    ) &&
    id
  ) {
    store("_aae_orders", orders.concat(id).slice(-50));
  }
}

// Declarative purchases in the page now (also after a content swap).
export function declared() {
  doc.querySelectorAll("[data-aae-purchase]").forEach((element) => {
    var data = element.dataset;
    if (!element.aaeDone) purchase({ value: data.aaeValue, currency: data.aaeCurrency, order_id: data.aaeOrderId });
    element.aaeDone = 1;
  });
}
