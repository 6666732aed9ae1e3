// Campaign attribution: the UTM parameters of the landing address
// (utm_source, utm_medium, utm_campaign, utm_term, utm_content) go with every
// event of the session under their own names, so a Purchase pages later is
// attributed to the campaign that brought the visitor (docs/events.md).
//
// - A page view whose address has any of them replaces the session's (last
//   touch); one without keeps them.
// - Kept in _aae_utm, [when, {utm_*: text}], where the tracker keeps its data
//   (localStorage; sessionStorage with cookieless), until 30 days after the
//   last page view, as the session cookie; only once the page may store
//   (consent.js stores them when the visitor consents), removed on refusal.
// - Values: clean text of 1-200 characters (the event contract's rule), none
//   holding an email address (util.js personal).
//
// One exported function, not three: every top-level name past the
// minifier's 54 one-letter names costs a byte at each use.
import { clean, KEEP, load, personal, store } from "./util.js";

export var utm; // the session's, {utm_source: ...}; undefined until first read

// campaign(url): a page view of `url` (or the landing address, for an event
// made before the first PageView); its UTM parameters, if any, become the
// session's. campaign(): stores them (a no-op while the page may not
// store); campaign(0, 1): forgets them (refused).
export function campaign(url, drop) {
  var kept = load("_aae_utm") || [];
  // The UTM parameters get(name) gives, or undefined when there are none.
  var pick = (get) => {
    var found;
    KEEP.slice(0, 5).forEach((name) => {
      var value = clean(get(name));
      // An email address in a value is no campaign: left out (util.js personal).
      if (value && !personal(value)) (found = found || {})[name] = value;
    });
    return found;
  };
  // Read back through pick(): what storage holds is not trusted to be ours.
  utm = drop ? {} : utm || (Date.now() - kept[0] < 2592e6 && pick((name) => Object(kept[1])[name])) || {};
  if (url) {
    kept = new URL(url).searchParams;
    utm = pick((name) => kept.get(name)) || utm;
  }
  store("_aae_utm", Object.keys(utm)[0] ? [Date.now(), utm] : null);
}
