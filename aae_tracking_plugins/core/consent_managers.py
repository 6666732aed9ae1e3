"""Third-party consent managers that gate scripts, and how each wants our tracker tag written.

Each of them finds the script tags it manages by an attribute naming a category (or service),
leaves them as ``type="text/plain"`` data blocks, which browsers never run (HTML standard,
4.12.1.1 "Processing model", "prepare the script element" step 8), and once the visitor accepts
that category inserts a copy of the tag as JavaScript, attributes and text included. The
setting ``consent_manager`` names the manager, ``consent_category`` its category for our tag
(docs/consent.md, "Consent managers"). Sources, per manager:

- vanilla-cookieconsent v3: ``type="text/plain" data-category="NAME"`` ("How to manage
  scripts", https://cookieconsent.orestbida.com/advanced/manage-scripts.html). A leading
  ``!`` would run the tag when the category is *refused*, so a category must not start with
  one. It collects the tags once, when ``CookieConsent.run()`` runs (v3.1.0,
  src/utils/general.js ``retrieveScriptElements``).
- Klaro: ``type="text/plain" data-type="text/javascript" data-name="SERVICE"``; the copy gets
  the type of ``data-type`` (klaro-js src/consent-manager.js ``updateServiceElements``). It
  applies the consents once the document is parsed (src/lib.js ``doOnceLoaded``).
- Cookiebot, manual blocking: ``type="text/plain" data-cookieconsent="CATEGORIES"``, one or
  more of ``preferences``, ``statistics``, ``marketing``, comma-separated (Cookiebot,
  "Manual cookie blocking"); ``Cookiebot.runScripts()`` runs tags added after its scan
  (Cookiebot SDK, https://www.cookiebot.com/en/developer/).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aae_tracking_plugins.core.values import ConfigError, show_value, validate_id

#: ``consent_manager`` when no manager gates the tag (the default).
NO_MANAGER = "none"


@dataclass(frozen=True)
class ConsentManager:
    """How one manager wants a gated tag written.

    ``fixed``: attributes with fixed values, in the order written (``type`` first);
    ``category_attribute``: the attribute that names the category; ``default_category``: the
    category when ``consent_category`` is not set; ``categories``: the manager's own fixed set
    of categories, when it has one (else any short identifier).
    """

    fixed: tuple[tuple[str, str], ...]
    category_attribute: str
    default_category: str
    categories: tuple[str, ...] = ()


#: The managers ``consent_manager`` can name, with the attributes each one reads.
CONSENT_MANAGERS: Mapping[str, ConsentManager] = {
    "vanilla-cookieconsent": ConsentManager(
        (("type", "text/plain"),), "data-category", "analytics"
    ),
    "klaro": ConsentManager(
        (("type", "text/plain"), ("data-type", "text/javascript")), "data-name", "aae-tracking"
    ),
    "cookiebot": ConsentManager(
        (("type", "text/plain"),),
        "data-cookieconsent",
        "statistics",
        ("preferences", "statistics", "marketing"),
    ),
}
#: The values of ``consent_manager``, the default first.
CONSENT_MANAGER_NAMES = (NO_MANAGER, *CONSENT_MANAGERS)

_LIST_SEPARATOR = re.compile(r"\s*,\s*")


def validate_category(manager: str, category: object) -> str | None:
    """The ``consent_category`` to write for ``manager`` (its default when ``None``).

    Args:
        manager: a valid ``consent_manager`` value.
        category: the setting as given: ``None`` (not set), or text.

    Returns:
        The category, ``None`` when ``manager`` is ``none``. Cookiebot's list is written
        comma-separated without spaces (``"statistics,marketing"``).

    Raises:
        ConfigError: a category without a manager; not a short identifier (vanilla-cookieconsent,
            Klaro; a vanilla-cookieconsent category with a leading ``!`` is told why); not a list
            of Cookiebot's own categories.
    """
    if manager == NO_MANAGER:
        if category is not None:
            raise ConfigError(
                "consent_category",
                "is only read with consent_manager (one of "
                f"{', '.join(repr(name) for name in CONSENT_MANAGERS)}), which is not set",
            )
        return None
    spec = CONSENT_MANAGERS[manager]
    if category is None:
        return spec.default_category
    if not spec.categories:
        try:
            return validate_id("consent_category", category)
        except ConfigError as exc:
            if manager == "vanilla-cookieconsent" and str(category).startswith("!"):
                # Said outright: the identifier rule alone does not tell why a '!' is wrong.
                rule = str(exc).partition(": ")[2]
                raise ConfigError(
                    "consent_category",
                    f"{rule}: a leading '!' makes vanilla-cookieconsent run the tag when the "
                    "visitor refuses the category; name the category to accept",
                ) from None
            raise
    names = _LIST_SEPARATOR.split(category.strip()) if isinstance(category, str) else None
    if not names or any(name not in spec.categories for name in names):
        raise ConfigError(
            "consent_category",
            f"{manager}'s categories are {', '.join(spec.categories)} (comma-separated for "
            f"several), got {show_value(category)}",
        )
    return ",".join(names)


def gating_attributes(manager: str, category: str | None) -> tuple[tuple[str, str], ...]:
    """The attributes, in the order written, that gate our tracker tag for ``manager``
    (none for ``none``)."""
    if manager == NO_MANAGER or category is None:
        return ()
    spec = CONSENT_MANAGERS[manager]
    return (*spec.fixed, (spec.category_attribute, category))


def recognise(gating: Mapping[str, str]) -> tuple[str, str] | None:
    """The ``(consent_manager, consent_category)`` that write exactly the gating ``gating``
    (attribute name -> value, as :func:`.engine.gating.gating` reads it), if any do."""
    for manager, spec in CONSENT_MANAGERS.items():
        category = gating.get(spec.category_attribute)
        if category is None or gating.keys() != {*dict(spec.fixed), spec.category_attribute}:
            continue
        if any(gating[name] != value for name, value in spec.fixed):
            continue
        try:
            if validate_category(manager, category) == category:
                return manager, category
        except ConfigError:
            continue
    return None
