"""A site whose tracker tag a real consent manager gates: vanilla-cookieconsent 3 from npm
(node_modules, a devDependency; served from the site, no CDN), set up as docs/consent.md's
recipe says. Used by tests/browser/test_consent_managers.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet, write_script_files

REPO = Path(__file__).resolve().parent.parent
#: The package's distribution files (MIT), from package-lock.json.
COOKIECONSENT = REPO / "node_modules" / "vanilla-cookieconsent" / "dist"

#: A landing page with the manager's files in <head> (``defer``: they run once the page is
#: parsed, so CookieConsent.run() sees the tracker tag at the end of <body>) and no inline
#: script, so that a strict Content-Security-Policy (script-src 'self') needs nothing more.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Desk</title>
<link rel="stylesheet" href="cookieconsent.css">
<script defer src="cookieconsent.umd.js"></script>
<script defer src="cookieconsent-config.js"></script>
</head>
<body><h1>Desk</h1>
<a class="cta-button" id="buy" href="#buy">Buy the desk</a>
<a id="next" href="second.html">Next page</a>
</body></html>
"""

#: The recipe's configuration file (docs/consent.md): one "analytics" category, and our consent
#: API told of every choice, so that a revocation stops the tracker already running on the page.
CONFIG_JS = """\
function aaeConsent() {
  AAE_TRACKING.consent(CookieConsent.acceptedCategory("analytics"));
}
CookieConsent.run({
  categories: { necessary: { enabled: true, readOnly: true }, analytics: {} },
  onConsent: aaeConsent,
  onChange: aaeConsent,
  language: {
    default: "en",
    translations: {
      en: {
        consentModal: {
          title: "Cookies",
          description: "We measure visits to this page.",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
        },
        preferencesModal: {
          title: "Preferences",
          acceptAllBtn: "Accept all",
          acceptNecessaryBtn: "Reject all",
          savePreferencesBtn: "Save",
          sections: [{ title: "Analytics", linkedCategory: "analytics" }],
        },
      },
    },
  },
});
"""
#: The consent dialog's buttons (vanilla-cookieconsent marks them with data-role).
ACCEPT = "#cc-main .cm [data-role=all]"
REJECT = "#cc-main .cm [data-role=necessary]"


def write_site(site: Path, config: TrackingConfig) -> Path:
    """``index.html`` and ``second.html`` tracked with ``config`` (its ``consent_manager``
    should be ``vanilla-cookieconsent``), the manager's files and the recipe's configuration,
    and (``inline_script: false``) our script files; returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for name in ("cookieconsent.umd.js", "cookieconsent.css"):
        shutil.copyfile(COOKIECONSENT / name, site / name)
    (site / "cookieconsent-config.js").write_text(CONFIG_JS, "utf-8")
    for name in ("index.html", "second.html"):
        result = inject(PAGE, render_snippet(config))
        assert result.skipped_reason is None, result.skipped_reason
        (site / name).write_text(result.html, "utf-8")
    if not config.inline_script:
        write_script_files(site, config)
    return site
