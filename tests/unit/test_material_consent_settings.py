"""Reading Material for MkDocs' ``extra.consent`` (integrations/material_consent.py), without a
build: when the tracker follows Material's choice, with which consent mode, and when the
settings are refused or warned about. Real builds and Chromium:
tests/browser/test_material_consent.py.
"""

from __future__ import annotations

import pytest

from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.values import ConfigError
from aae_tracking_plugins.integrations.material_consent import COOKIE_ID, follow_material_consent

LISTED = {"consent": {"title": "Cookies", "cookies": {"github": "GitHub", COOKIE_ID: "Stats"}}}
NOT_LISTED = {"consent": {"title": "Cookies", "cookies": {"github": "GitHub"}}}


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig("lp_1", "https://api.aae.com", **settings)  # type: ignore[arg-type]


def test_listed_follows_materials_choice_opt_in_unless_set() -> None:
    followed, warning = follow_material_consent(make(), "material", LISTED, None)
    assert (followed.consent, followed.material_consent, warning) == ("opt-in", COOKIE_ID, None)
    kept, _ = follow_material_consent(make(consent="opt-out"), "material", LISTED, "opt-out")
    assert (kept.consent, kept.material_consent) == ("opt-out", COOKIE_ID)
    # The checkbox may be a mapping ({name, checked}) in Material's cookies too.
    entry = {"consent": {"cookies": {COOKIE_ID: {"name": "Stats", "checked": False}}}}
    assert follow_material_consent(make(), "material", entry, None)[0].consent == "opt-in"


def test_consent_none_set_while_listed_is_one_line_naming_consent() -> None:
    with pytest.raises(ConfigError) as caught:
        follow_material_consent(make(), "material", LISTED, "none")
    assert str(caught.value) == (
        "consent: is 'none', but extra.consent.cookies lists 'aae-tracking' (Material's cookie "
        "consent): set 'opt-in' or 'opt-out', or leave consent unset (opt-in)"
    )


def test_not_listed_warns_only_when_nothing_asks_for_consent() -> None:
    config, warning = follow_material_consent(make(), "material", NOT_LISTED, None)
    assert config == make()
    assert warning is not None
    assert "has no 'aae-tracking' entry" in warning
    asked = make(consent="opt-in")
    assert follow_material_consent(asked, "material", NOT_LISTED, "opt-in") == (asked, None)


def test_a_consent_manager_with_materials_dialog_listing_us_is_one_line() -> None:
    # Both would gate the tag: the manager's dialog runs it, then it waits for Material's.
    with pytest.raises(ConfigError) as caught:
        follow_material_consent(make(consent_manager="klaro"), "material", LISTED, None)
    assert str(caught.value) == (
        "consent_manager: is 'klaro', but extra.consent.cookies lists 'aae-tracking' "
        "(Material's cookie consent): the visitor would have to accept the tracker in both "
        "dialogs; remove one of them (docs/consent.md)"
    )


def test_not_listed_does_not_warn_when_a_consent_manager_gates_the_tag() -> None:
    # The warning says the tracker tracks without asking: not so when a manager gates it.
    gated = make(consent_manager="vanilla-cookieconsent")
    assert follow_material_consent(gated, "material", NOT_LISTED, None) == (gated, None)


@pytest.mark.parametrize(
    ("theme", "extra"),
    [
        ("mkdocs", LISTED),  # Material's dialog exists only in its own theme
        ("material", {}),
        ("material", {"consent": None}),
        ("material", {"consent": "yes"}),
    ],
)
def test_no_materials_dialog_changes_nothing(theme: str, extra: dict[str, object]) -> None:
    assert follow_material_consent(make(), theme, extra, None) == (make(), None)
