"""MkDocs adapter: translate ``mkdocs.yml`` options and page front matter into core calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from .config import ConfigError, TrackingConfig
from .inject import InjectionResult, Snippet, inject, inject_bytes
from .snippet import render_head_stub, render_tracker_tag

# Messages read "aae-tracking: ...", like the errors and the Pelican adapter's messages.
log = get_plugin_logger("aae-tracking")

FRONT_MATTER_KEY = "aae_tracking"
_OVERRIDABLE = ("landing_page_id", "campaign_id")
_LAST = -100  # run after every other plugin, so none can rewrite or drop our tags


class AaeTrackingConfig(base.Config):
    # Types are checked by TrackingConfig, which gives one message per setting for every generator.
    landing_page_id = c.Optional(c.Type((str, int)))
    campaign_id = c.Optional(c.Type((str, int)))
    api_base_url = c.Optional(c.Type(str))
    enabled = c.Type(bool, default=True)
    #: Also track hand-written .html files copied from docs_dir as they are.
    static_html = c.Type(bool, default=True)


class AaeTrackingPlugin(BasePlugin[AaeTrackingConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.tracking: TrackingConfig | None = None
        self._head_stub = ""
        self._static_pages: list[str] = []

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        if not self.config.enabled:
            self.tracking = None
            return config
        settings = {
            key: self.config[key] for key in ("landing_page_id", "campaign_id", "api_base_url")
        }
        try:
            self.tracking = TrackingConfig.from_mapping(settings)
        except ConfigError as exc:
            raise PluginError(f"aae-tracking: plugin option {exc}") from None
        self._head_stub = render_head_stub()
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        self._static_pages = [
            file.dest_uri
            for file in files
            if file.src_uri.lower().endswith((".html", ".htm")) and not file.is_documentation_page()
        ]
        return files

    def _snippet(self, tracking: TrackingConfig) -> Snippet:
        return Snippet(self._head_stub, render_tracker_tag(tracking))

    def _report(self, where: str, result: InjectionResult) -> str:
        if result.worth_a_warning:
            log.warning("%s left untracked: %s", where, result.skipped_reason)
        return result.html

    @event_priority(_LAST)
    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        if self.tracking is None:
            return output
        tracking = self._page_tracking(page)
        if tracking is None:
            return output
        return self._report(page.file.src_uri, inject(output, self._snippet(tracking)))

    def _page_tracking(self, page: Page) -> TrackingConfig | None:
        assert self.tracking is not None
        setting: Any = page.meta.get(FRONT_MATTER_KEY, True)
        where = f"aae-tracking: {page.file.src_uri}: front matter '{FRONT_MATTER_KEY}'"
        if setting is False:
            return None
        if setting is True or setting is None:
            return self.tracking
        if not isinstance(setting, dict):
            raise PluginError(
                f"{where} must be false (opt out) or a mapping with "
                f"{' and/or '.join(_OVERRIDABLE)}, got {setting!r}"
            )
        unknown = sorted(str(key) for key in setting if key not in _OVERRIDABLE)
        if unknown:
            raise PluginError(
                f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_OVERRIDABLE)})"
            )
        try:
            return self.tracking.with_overrides(
                landing_page_id=setting.get("landing_page_id"),
                campaign_id=setting.get("campaign_id"),
            )
        except ConfigError as exc:
            raise PluginError(f"{where}: {exc}") from None

    @event_priority(_LAST)
    def on_post_template(
        self, output_content: str, *, template_name: str, config: MkDocsConfig
    ) -> str | None:
        # Theme templates include 404.html, but also sitemap.xml: only HTML gets a tracker.
        if self.tracking is None or not template_name.lower().endswith((".html", ".htm")):
            return output_content
        return self._report(template_name, inject(output_content, self._snippet(self.tracking)))

    @event_priority(_LAST)
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self.tracking is None or not self.config.static_html:
            return
        snippet = self._snippet(self.tracking)
        for dest_uri in self._static_pages:
            path = Path(config.site_dir, dest_uri)
            try:
                original = path.read_bytes()
            except OSError as exc:
                log.warning("%s left untracked: cannot read it (%s)", dest_uri, exc)
                continue
            # Hand-written files may use any charset: inject_bytes keeps it.
            result = inject_bytes(original, snippet)
            if result.worth_a_warning:
                log.warning("%s left untracked: %s", dest_uri, result.skipped_reason)
            elif result.data != original:
                path.write_bytes(result.data)
