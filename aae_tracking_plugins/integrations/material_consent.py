"""Material for MkDocs' cookie consent (``extra.consent``): the tracker follows its stored choice.

Material (9.x: templates/partials/consent.html, partials/javascripts/consent.html and
partials/javascripts/base.html) lists each id of ``extra.consent.cookies`` as a checkbox in its
consent dialog. When the visitor accepts or rejects, it stores the ids left checked as a JSON
object, ``{"aae-tracking": true, ...}`` (an unchecked id is absent; rejecting stores ``{}``), in
``localStorage`` under ``<scope path>.__consent`` through its ``__md_set`` (the scope is
``extra.scope``, else the site root), then reloads the page. Our cookie id there is
:data:`COOKIE_ID`; the tracker reads the choice with Material's own ``__md_get`` (js/consent.js)
and applies it through ``AAE_TRACKING.consent`` (docs/consent.md, "Material for MkDocs").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.values import ConfigError

#: Our id in ``extra.consent.cookies``: the checkbox of Material's dialog the tracker follows.
COOKIE_ID = "aae-tracking"


def follow_material_consent(
    tracking: TrackingConfig, theme: str | None, extra: Mapping[str, object], consent: object
) -> tuple[TrackingConfig, str | None]:
    """The settings with Material's cookie consent followed, and a warning, if one is due.

    Args:
        tracking: the validated plugin settings.
        theme: the MkDocs theme's name (Material's dialog exists only in ``material``).
        extra: ``mkdocs.yml``'s ``extra``.
        consent: the plugin's ``consent`` option as written (``None`` when not set).

    Returns:
        ``(settings, warning)``. When ``extra.consent.cookies`` lists :data:`COOKIE_ID`, the
        settings follow Material's choice (``material_consent``) with ``consent: opt-in`` unless
        another mode was set. When ``extra.consent`` is there without our id and nothing asks
        for consent (``consent: none``), the settings as given and a warning: the dialog does
        not list the tracker, which tracks without asking. Otherwise (a consent mode, or a
        ``consent_manager`` that gates the tag, asks already) the settings as given.

    Raises:
        ConfigError: ``consent: none`` is set while ``extra.consent.cookies`` lists our id (the
            tracker would ignore the visitor's choice); or a ``consent_manager`` is set while
            it lists our id (two dialogs would each have to accept the tracker).
    """
    dialog = extra.get("consent") if theme == "material" else None
    if not isinstance(dialog, Mapping):
        return tracking, None
    cookies = dialog.get("cookies")
    if not isinstance(cookies, Mapping) or COOKIE_ID not in cookies:
        if tracking.consent != "none" or tracking.consent_manager != "none":
            return tracking, None
        return tracking, (
            f"extra.consent is set, but extra.consent.cookies has no '{COOKIE_ID}' entry: "
            "Material's cookie consent does not ask about this tracker, which tracks without "
            f"asking (consent: none); add '{COOKIE_ID}: <label>' to extra.consent.cookies "
            "(docs/consent.md)"
        )
    if consent == "none":
        raise ConfigError(
            "consent",
            f"is 'none', but extra.consent.cookies lists '{COOKIE_ID}' (Material's cookie "
            "consent): set 'opt-in' or 'opt-out', or leave consent unset (opt-in)",
        )
    if tracking.consent_manager != "none":
        # The tag would run only after the manager's dialog, and then wait for Material's.
        raise ConfigError(
            "consent_manager",
            f"is '{tracking.consent_manager}', but extra.consent.cookies lists '{COOKIE_ID}' "
            "(Material's cookie consent): the visitor would have to accept the tracker in "
            f"both dialogs; remove one of them (docs/consent.md)",
        )
    mode = tracking.consent if consent is not None else "opt-in"
    return replace(tracking, consent=mode, material_consent=COOKIE_ID), None
