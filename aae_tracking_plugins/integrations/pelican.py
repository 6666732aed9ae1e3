"""Pelican adapter: read ``AAE_TRACKING`` once per build, track every HTML file Pelican writes.

Registered by namespace plugin ``pelican.plugins.aae_tracking`` (``PLUGINS = ["aae_tracking"]``).
Pages are tracked in ``content_written``, right after Pelican writes each rendered file: articles,
pages, indexes and their pagination, tags, categories, authors, archives and direct templates.
With ``inline_script: False`` the script files are written into ``OUTPUT_PATH/aae-tracking/`` when
the first page of a build is written, and checked again on ``finalized``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pelican.plugins.signals as signals

from aae_tracking_plugins.core.engine.inject import inject_bytes
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import (
    render_snippet,
    root_for,
    tracker_build,
    write_script_files,
)
from aae_tracking_plugins.core.values import ConfigError

logger = logging.getLogger(__name__)

SETTING = "AAE_TRACKING"
OPT_OUT_KEY = "aae_tracking"
#: Per-page metadata that overrides a site setting (``TrackingConfig.with_overrides`` keyword ->
#: metadata key); an empty value removes the site's campaign, Pixel or variant from the page.
OVERRIDE_KEYS = {
    "landing_page_id": "aae_tracking_landing_page_id",
    "campaign_id": "aae_tracking_campaign_id",
    "facebook_pixel_id": "aae_tracking_facebook_pixel_id",
    "variant": "aae_tracking_variant",
}
_OFF = {"off", "false", "no", "0", "disabled"}
_ON = {"on", "true", "yes", "1", "enabled", ""}


class AaeTrackingError(Exception):
    """A bad setting or page metadata: the build must stop with this one line."""


def _stop_build(error: AaeTrackingError) -> NoReturn:
    # Pelican logs ordinary exceptions with a full traceback; SystemExit stops the build with
    # just our line on stderr and a non-zero exit status.
    raise SystemExit(f"CRITICAL {error}") from None


@dataclass
class _Build:
    tracking: TrackingConfig
    output_path: str
    #: The tracker builds whose script files (external mode) are in place for this run
    #: (reset on ``finalized``); a page overriding ``facebook_pixel_id`` may need another one.
    files_written: set[str] = field(default_factory=set)


# One entry per output directory: several Pelican instances may share a process (tests, autoreload).
_builds: dict[str, _Build | None] = {}


def _output_key(settings: Mapping[str, Any]) -> str:
    return os.path.realpath(str(settings.get("OUTPUT_PATH", "output")))


def read_settings(settings: Mapping[str, Any]) -> TrackingConfig | None:
    """The validated ``AAE_TRACKING`` setting, or ``None`` when it is not set."""
    value = settings.get(SETTING)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AaeTrackingError(
            f"aae-tracking: {SETTING} must be a dict such as "
            f'{{"landing_page_id": "lp_123", "api_base_url": "https://api.aae.com"}}, got {value!r}'
        )
    try:
        return TrackingConfig.from_mapping(value, where=SETTING)
    except ConfigError as exc:
        raise AaeTrackingError(f"aae-tracking: {exc}") from None


def on_initialized(pelican: Any) -> None:
    """Read ``AAE_TRACKING`` once per build (the ``initialized`` signal), keyed by output path.

    Not set: a warning, and pages stay untracked. Invalid: the build stops with one line that
    names the setting (``AAE_TRACKING['campaign_id']: ...``), raised as ``SystemExit``.
    """
    try:
        tracking = read_settings(pelican.settings)
    except AaeTrackingError as error:
        _stop_build(error)
    key = _output_key(pelican.settings)
    if tracking is None:
        _builds[key] = None
        logger.warning(
            "aae-tracking: the plugin is installed but %s is not set in your settings; "
            "pages are left untracked",
            SETTING,
        )
        return
    _builds[key] = _Build(tracking, key)


def _write_files(build: _Build, tracking: TrackingConfig | None = None) -> None:
    tracking = tracking or build.tracking
    build_name = tracker_build(tracking)
    if tracking.inline_script or build_name in build.files_written:
        return
    try:
        write_script_files(build.output_path, tracking)
    except OSError as exc:
        _stop_build(
            AaeTrackingError(
                f"aae-tracking: cannot write the script files into {build.output_path}: {exc}"
            )
        )
    build.files_written.add(build_name)


def _page_tracking(base: TrackingConfig, context: Mapping[str, Any]) -> TrackingConfig | None:
    """The settings of the article or page being written: ``base`` with the metadata overrides
    of :data:`OVERRIDE_KEYS` applied, ``None`` when it opts out (``aae_tracking: off``), and
    ``base`` for every other page (indexes, tags, archives...).

    Raises:
        AaeTrackingError: bad opt-out value or override, one line naming the source file and
            the metadata key.
    """
    content = context.get("article") or context.get("page")
    if content is None:
        return base
    metadata: Mapping[str, Any] = getattr(content, "metadata", {}) or {}
    source = getattr(content, "relative_source_path", None) or getattr(content, "source_path", "?")
    switch = metadata.get(OPT_OUT_KEY)
    if switch is not None:
        word = str(switch).strip().lower()
        if word in _OFF:
            return None
        if word not in _ON:
            raise AaeTrackingError(
                f"aae-tracking: {source}: metadata '{OPT_OUT_KEY}' must be 'off' (or 'on'), "
                f"got {switch!r}"
            )
    overrides = {name: metadata.get(key) for name, key in OVERRIDE_KEYS.items()}
    try:
        return base.with_overrides(**overrides, where=f"{source}: metadata")
    except ConfigError as exc:
        message = str(exc)
        for name, key in OVERRIDE_KEYS.items():
            message = message.replace(f"metadata: {name}", f"metadata '{key}'")
        raise AaeTrackingError(f"aae-tracking: {message}") from None


def on_content_written(path: str, context: Mapping[str, Any] | None = None) -> None:
    """Insert the tags into the ``.html``/``.htm`` file Pelican just wrote at ``path``.

    The file is read and written as bytes in its own encoding; a page the engine leaves alone
    is not rewritten (a warning says why). Invalid page metadata stops the build with one line
    naming the file (``SystemExit``).
    """
    if not path.lower().endswith((".html", ".htm")) or context is None:
        return
    build = _builds.get(_output_key(context))
    if build is None:
        return
    try:
        tracking = _page_tracking(build.tracking, context)
    except AaeTrackingError as error:
        _stop_build(error)
    if tracking is None:
        return
    _write_files(build, tracking)
    # Bytes in, bytes out, in the page's own encoding: Pelican writes UTF-8, but a plugin that ran
    # before us (a minifier, a re-encoder) may have left another charset or stray bytes.
    with open(path, "rb") as handle:
        original = handle.read()
    root = root_for(os.path.relpath(os.path.realpath(path), build.output_path))
    result = inject_bytes(original, render_snippet(tracking, root))
    if result.skipped_reason is not None:
        if result.worth_a_warning:
            logger.warning("aae-tracking: %s left untracked: %s", path, result.skipped_reason)
        return
    with open(path, "wb") as handle:
        handle.write(result.data)


def on_finalized(pelican: Any) -> None:
    """End of a build: make sure the script files exist (also when no page was written)."""
    build = _builds.get(_output_key(pelican.settings))
    if build is None:
        return
    build.files_written.clear()
    _write_files(build)
    build.files_written.clear()  # check again in the next --autoreload run


def register() -> None:
    """Pelican's plugin entry point: connect the three signal handlers of this module."""
    signals.initialized.connect(on_initialized)
    signals.content_written.connect(on_content_written)
    signals.finalized.connect(on_finalized)
