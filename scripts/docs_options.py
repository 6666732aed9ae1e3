"""The options reference of the docs site, generated from the configuration classes.

Read at every ``mkdocs build`` by ``scripts/docs_hooks.py``, so the page cannot drift from the
code. Where each column comes from:

- names, types and defaults: the fields of :class:`TrackingConfig` (core/settings.py) that are
  settings (:data:`SETTING_NAMES`), and the MkDocs-only options of ``AaeTrackingConfig``
  (integrations/mkdocs.py: ``enabled``, ``static_html``);
- allowed values: :data:`CHOICE_SETTINGS`;
- descriptions: the ``#:`` comment above each field (the Sphinx convention for attribute docs);
- per-page keys: ``_OVERRIDABLE`` of the MkDocs plugin, ``OVERRIDE_KEYS`` / ``OPT_OUT_KEY`` of the
  Pelican plugin (read from its source: importing it needs Pelican, which lives in another venv);
- command-line flags: ``FLAGS`` of cli/config_file.py.

:func:`options_page` raises :class:`DocsReferenceError` (one line naming the option) when a
setting has no description, so a new option cannot reach the site undocumented.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aae_tracking_plugins.cli.config_file import CONFIG_TABLE, FLAGS
from aae_tracking_plugins.core import settings
from aae_tracking_plugins.core.settings import CHOICE_SETTINGS, SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.integrations import mkdocs as mkdocs_plugin

PELICAN_SOURCE = Path(mkdocs_plugin.__file__).with_name("pelican.py")

#: The annotation of a field as a reader of a config file sees it.
_TYPE_WORDS = {
    "str": "string",
    "str | None": "string",
    "bool": "boolean",
    "tuple[TrackingRule, ...]": "list of rules `{selector, event, props}`",
    "tuple[CheckoutLink, ...]": "list of URL prefixes or `{prefix, param}`",
    "tuple[str, ...]": "list of strings",
}
#: The page that explains each option at length (every link is checked by the strict build).
SEE_ALSO = {
    "landing_page_id": "../configure-mkdocs.md#options",
    "campaign_id": "../events.md#campaign-attribution",
    "api_base_url": "../security-privacy.md#api_base_url-must-be-https",
    "inline_script": "../security-privacy.md#content-security-policy",
    "track_automation": "../delivery.md#previews-automation-and-opting-out",
    "batch": "../delivery.md#batching",
    "facebook_pixel_id": "../facebook-pixel.md",
    "debug": "../custom-events.md#debug-mode",
    "engagement": "../engagement.md",
    "web_vitals": "../web-vitals.md",
    "cookieless": "../consent.md#cookieless-mode",
    "consent": "../consent.md",
    "gpc": "../consent.md#global-privacy-control",
    "consent_manager": "../consent.md#consent-managers",
    "consent_category": "../consent.md#consent-managers",
    "variant": "../ab-testing.md",
    "events": "../custom-events.md#in-the-site-config-the-tracking-plan",
    "checkout_links": "../checkout.md",
    "query_params": "../security-privacy.md",
    "static_html": "../configure-mkdocs.md#what-gets-tracked",
    "enabled": "../configure-mkdocs.md#options",
}


class DocsReferenceError(Exception):
    """The reference cannot be generated: a setting lacks its ``#:`` description."""


def attribute_comments(cls: type) -> dict[str, str]:
    """``{attribute: text}`` of the ``#:`` comment lines right above each attribute of ``cls``.

    Input: a class whose source is available. Output: the comment text, lines joined with
    spaces, ``#:`` and double backquotes (reST literals) turned into Markdown code.
    """
    source = inspect.getsource(cls)
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if not isinstance(target, ast.Name):
            continue
        comment: list[str] = []
        row = node.lineno - 2  # the line above, 0-based
        while row >= 0 and lines[row].strip().startswith("#:"):
            comment.insert(0, lines[row].strip()[2:].strip())
            row -= 1
        if comment:
            found[target.id] = " ".join(comment).replace("``", "`")
    return found


def _pelican_keys() -> tuple[dict[str, str], str]:
    """``(OVERRIDE_KEYS, OPT_OUT_KEY)`` of the Pelican plugin, read from its source."""
    values: dict[str, Any] = {}
    for node in ast.parse(PELICAN_SOURCE.read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("OVERRIDE_KEYS", "OPT_OUT_KEY"):
                values[name] = ast.literal_eval(node.value)
    return values["OVERRIDE_KEYS"], values["OPT_OUT_KEY"]


def _default_text(value: object) -> str:
    if value is None:
        return "not set"
    if value == ():
        return "`[]` (none)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _allowed(name: str, annotation: str) -> tuple[str, ...]:
    """The values a setting takes, when it takes a fixed set (modes, or true/false)."""
    if annotation == "bool":
        return ("true", "false")
    return tuple(CHOICE_SETTINGS.get(name, ()))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def tracking_options() -> list[dict[str, str]]:
    """One row per setting of :data:`SETTING_NAMES`, in that order: ``name``, ``type``,
    ``default``, ``allowed``, ``description``, ``flag`` (``inject``'s flag or ``""``).

    Raises:
        DocsReferenceError: a setting has no ``#:`` description in :class:`TrackingConfig`.
    """
    comments = attribute_comments(TrackingConfig)
    fields = {field.name: field for field in dataclasses.fields(TrackingConfig)}
    rows = []
    for name in SETTING_NAMES:
        field = fields[name]
        if name not in comments:
            raise DocsReferenceError(
                f"{settings.__name__}.TrackingConfig.{name}: no '#:' description above the field"
            )
        required = field.default is dataclasses.MISSING
        annotation = str(field.type)
        rows.append(
            {
                "name": name,
                "type": _TYPE_WORDS.get(annotation, f"`{annotation}`"),
                "default": "**required**" if required else _default_text(field.default),
                "allowed": ", ".join(f"`{mode}`" for mode in _allowed(name, annotation)),
                "description": comments[name],
                "flag": f"`{FLAGS[name]}`" if name in FLAGS else "",
            }
        )
    return rows


def mkdocs_only_options() -> list[dict[str, str]]:
    """The options of ``AaeTrackingConfig`` that are not tracking settings (``enabled``, ...).

    Raises:
        DocsReferenceError: such an option has no ``#:`` description.
    """
    config_class = mkdocs_plugin.AaeTrackingConfig
    comments = attribute_comments(config_class)
    rows = []
    for name, option in config_class._schema:
        if name in SETTING_NAMES:
            continue
        if name not in comments:
            raise DocsReferenceError(
                f"{config_class.__module__}.{config_class.__name__}.{name}: no '#:' description"
            )
        expected = getattr(option, "_type", None)
        kind = "boolean" if expected is bool else getattr(expected, "__name__", "any")
        rows.append(
            {
                "name": name,
                "type": kind,
                "default": _default_text(option.default),
                "description": comments[name],
            }
        )
    return rows


def _summary(rows: list[dict[str, str]]) -> list[str]:
    """A table of every option (name, type, default), each name linking to its section."""
    table = ["| Option | Type | Default |", "| --- | --- | --- |"]
    table += [f"| [`{r['name']}`](#{r['name']}) | {r['type']} | {r['default']} |" for r in rows]
    return table


def _sections(rows: list[dict[str, str]]) -> list[str]:
    """One ``###`` section per option (its heading id is the option's name): the description,
    a link to the page that explains it, then type, default, allowed values, ``inject`` flag."""
    lines: list[str] = []
    for row in rows:
        link = SEE_ALSO.get(row["name"])
        lines += [f"### `{row['name']}` {{#{row['name']}}}", "", _cell(row["description"])]
        if link:
            lines[-1] += f" [More]({link})"
        lines += ["", f"- **Type:** {row['type']}", f"- **Default:** {row['default']}"]
        if row.get("allowed"):
            lines.append(f"- **Allowed values:** {row['allowed']}")
        if "flag" in row:
            lines.append(f"- **`inject` flag:** {row['flag'] or 'none: in the config file only'}")
        lines.append("")
    return lines


def _per_page_lines(pelican_keys: Mapping[str, str], opt_out: str) -> list[str]:
    lines = [
        "| Setting | MkDocs front matter | Pelican metadata |",
        "| --- | --- | --- |",
    ]
    for name in mkdocs_plugin._OVERRIDABLE:
        lines.append(
            f"| `{name}` | `{mkdocs_plugin.FRONT_MATTER_KEY}: {{{name}: ...}}` | "
            f"`{pelican_keys[name]}: ...` |"
        )
    lines.append(f"| (opt out) | `{mkdocs_plugin.FRONT_MATTER_KEY}: false` | `{opt_out}: off` |")
    return lines


def options_page() -> str:
    """The Markdown of ``reference/options.md``.

    Raises:
        DocsReferenceError: an option has no description in the code.
    """
    pelican_keys, opt_out = _pelican_keys()
    tracking = tracking_options()
    mkdocs_rows = mkdocs_only_options()
    lines = [
        "# Options reference",
        "",
        "Generated at every build of this site from the configuration classes: "
        "`TrackingConfig` in `aae_tracking_plugins/core/settings.py` (names, types, defaults, "
        "allowed values and the `#:` comment of each field) and the MkDocs plugin's "
        "`AaeTrackingConfig`. It cannot drift from the code; to change a line, change the code.",
        "",
        "The same settings, with the same names and checks, are read from:",
        "",
        "- **MkDocs**: the options of `aae-tracking` under `plugins:` in `mkdocs.yml` "
        "([Configure MkDocs](../configure-mkdocs.md)).",
        "- **Pelican**: the `AAE_TRACKING` dict in `pelicanconf.py` "
        "([Configure Pelican](../configure-pelican.md)).",
        f"- **Any static site**: the `[{CONFIG_TABLE}]` table of `aae-tracking inject --config "
        "tracking.toml`, or the flags of `inject` ([Command-line tool](../cli.md)).",
        "",
        "A bad value stops the build with one line that names the option.",
        "",
        "## Tracking settings",
        "",
        *_summary(tracking),
        "",
        *_sections(tracking),
        "## MkDocs-only options",
        "",
        "Options of the MkDocs plugin only (Pelican and `inject` have no use for them).",
        "",
        *_sections(mkdocs_rows),
        "## Per page",
        "",
        "A page can override these settings, or opt out of tracking:",
        "",
        *_per_page_lines(pelican_keys, opt_out),
        "",
        'An empty `campaign_id`, `facebook_pixel_id` or `variant` (`campaign_id: ""`) '
        "removes the site's value for that page.",
    ]
    return "\n".join(lines) + "\n"
