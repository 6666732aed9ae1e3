// Facebook Pixel dual tracking (only in the builds of sites that set
// facebook_pixel_id: the other builds carry none of this).
//
// The page's events also go to the Meta Pixel: PageView, AddToCart (the
// CTA's text as content_name), Purchase (value, currency) and custom events
// (their properties; the A/B variant on every event), each with
// {eventID: <our event_id>}, so the same event sent later by a server to
// Meta's Conversions API is recognised as a duplicate
// (https://developers.facebook.com/docs/marketing-api/conversions-api/deduplicate-pixel-and-server-events).
// What a server-side relay needs to match the visitor goes into our
// event_data: the _fbp cookie and the click id (_fbc cookie, or fbclid in
// the landing URL as fb.1.<ms>.<fbclid>, Meta's documented format).
import { doc, win } from "./util.js";

var STANDARD =
  /^(AddPaymentInfo|AddToCart|AddToWishlist|CompleteRegistration|Contact|CustomizeProduct|Donate|FindLocation|InitiateCheckout|Lead|PageView|Purchase|Schedule|Search|StartTrial|SubmitApplication|Subscribe|ViewContent)$/;
var made; // fbc made from the landing URL's fbclid
var ready = {}; // pixel ids already initialised on this page
var held = []; // calls made before the page was allowed to send
var allowed; // undefined until decided
var loaded; // this page has given the Pixel events (fbq is ours to revoke)

function cookie(name) {
  try {
    return (doc.cookie.match("(?:^|; *)" + name + "=([^;]+)") || [])[1];
  } catch (error) {
    // Cookies blocked: nothing to pass on.
  }
}

// Adds fbp / fbc to an event's data for a page with a Pixel.
export function matchKeys(data) {
  var click = /[?&]fbclid=([^&#]+)/.exec((win.AAE_TRACKING || {}).u || location.href);
  var fbp = cookie("_fbp");
  // Made once per page load: the same click id with the same creation time
  // on every event (Meta's fbc is fb.1.<when the click id was seen>.<id>).
  var fbc = cookie("_fbc") || (made = made || (click && "fb.1." + Date.now() + "." + click[1]));
  if (fbp) data.fbp = fbp;
  if (fbc) data.fbc = fbc;
}

function fire(call) {
  var fbq = win.fbq;
  loaded = 1;
  if (!fbq) {
    // Meta's loader: a queue until fbevents.js arrives and takes it over.
    fbq = win.fbq = function () {
      fbq.callMethod ? fbq.callMethod.apply(fbq, arguments) : fbq.queue.push(arguments);
    };
    if (!win._fbq) win._fbq = fbq;
    fbq.push = fbq;
    fbq.loaded = true;
    fbq.version = "2.0";
    fbq.queue = [];
    var script = doc.createElement("script");
    script.async = true;
    script.src = "https://connect.facebook.net/en_US/fbevents.js";
    doc.head.appendChild(script);
  }
  if (!ready[call[0]]) {
    ready[call[0]] = 1;
    fbq("init", call[0]);
  }
  // Meta's standard events by their name, any other with trackCustom
  // (https://developers.facebook.com/docs/meta-pixel/reference#standard-events).
  fbq(STANDARD.test(call[1]) ? "track" : "trackCustom", call[1], call[2], { eventID: call[3] });
}

// One event for the Pixel: [pixel id, event name, parameters, event_id].
export function pixel(call) {
  if (allowed) fire(call);
  else if (allowed == null) held.push(call);
}

// Whether this page may send to the Pixel: decided off the load path, and
// again at each consent choice (undefined: not yet, the calls wait). Once
// the Pixel is loaded, a refusal revokes its consent and a later grant gives
// it back (Meta's consent API:
// https://developers.facebook.com/docs/meta-pixel/implementation/gdpr).
export function allow(ok) {
  if (win.fbq && loaded && ok != allowed) win.fbq("consent", ok ? "grant" : "revoke");
  allowed = ok;
  if (ok) held.forEach(fire);
  if (ok != null) held = [];
}
