"""MkDocs adapter: translate ``mkdocs.yml`` options and page front matter into core calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from mkdocs import plugins as mkdocs_plugins
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page

from aae_tracking_plugins.core.engine.inject import (
    InjectionResult,
    Snippet,
    Speculation,
    inject,
    inject_bytes,
    speculate,
)
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import (
    render_page_marker,
    render_snippet,
    root_for,
    tracker_build,
    write_script_files,
)
from aae_tracking_plugins.core.values import ConfigError
from aae_tracking_plugins.integrations.background import (
    BackgroundSettler,
    Unconfirmed,
    rewrite,
    worker_threads,
)
from aae_tracking_plugins.integrations.material_consent import follow_material_consent

# Messages read "aae-tracking: ...", like the errors and the Pelican adapter's messages.
log = get_plugin_logger("aae-tracking")

FRONT_MATTER_KEY = "aae_tracking"
#: Front-matter keys of ``aae_tracking: {...}``: the settings that may differ per page.
_OVERRIDABLE = ("landing_page_id", "campaign_id", "facebook_pixel_id", "variant")
_LAST = -100  # run after every other plugin, so none can rewrite or drop our tags
_FIRST = 100  # settle the pages before other plugins read them at the end of the build
#: MkDocs 1.6 added ``CombinedEvent`` (two methods of one plugin on one event, each at its own
#: priority). Under MkDocs 1.5 the pages are parsed in line, so there is nothing to settle and
#: ``on_post_build`` is the static pages' method alone (docs/generators.md).
_COMBINED_EVENTS = hasattr(mkdocs_plugins, "CombinedEvent")
#: ``mkdocs serve`` builds what this accepts: MkDocs 1.6 adds drafts to the included files;
#: MkDocs 1.5 has no drafts and serves every file, excluded ones too (its commands/build.py).
_IN_SERVE = getattr(InclusionLevel, "is_in_serve", InclusionLevel.all)


class AaeTrackingConfig(base.Config):
    """The plugin's ``mkdocs.yml`` options: every setting of :data:`SETTING_NAMES`, plus
    ``enabled`` and ``static_html``.

    Types are checked by :class:`TrackingConfig`, which gives one message per setting for every
    generator (``events[2].selector: ...``), so the options take any value of a plausible type.
    """

    landing_page_id = c.Optional(c.Type((str, int)))
    campaign_id = c.Optional(c.Type((str, int)))
    api_base_url = c.Optional(c.Type(str))
    # Any value: TrackingConfig accepts only real booleans, with its own one-line message.
    inline_script = c.Optional(c.Type(object))
    track_automation = c.Optional(c.Type(object))
    batch = c.Optional(c.Type(object))
    facebook_pixel_id = c.Optional(c.Type((str, int)))
    debug = c.Optional(c.Type(object))
    engagement = c.Optional(c.Type(object))
    web_vitals = c.Optional(c.Type(object))
    cookieless = c.Optional(c.Type(object))
    #: ``none``, ``opt-in`` or ``opt-out``; any value: TrackingConfig names the modes.
    consent = c.Optional(c.Type(object))
    #: ``opt-out`` or ``first-party`` (what Global Privacy Control stops), as above.
    gpc = c.Optional(c.Type(object))
    #: The consent manager that gates the tracker tag, and its category (docs/consent.md).
    consent_manager = c.Optional(c.Type(object))
    consent_category = c.Optional(c.Type(object))
    #: The page's A/B variant (overridable per page in front matter).
    variant = c.Optional(c.Type((str, int)))
    #: The tracking plan: a list of ``{selector, event, props}`` mappings. Any value: a
    #: non-list is refused by TrackingConfig with a message naming ``events``.
    events = c.Optional(c.Type(object))
    #: Hosted-checkout URL prefixes (text) or ``{prefix, param}`` mappings, any value as above.
    checkout_links = c.Optional(c.Type(object))
    #: Query keys sent URLs keep besides the UTM parameters, gclid and fbclid, any value as above.
    query_params = c.Optional(c.Type(object))
    #: False: the plugin does nothing (no tags, no checks), e.g. ``!ENV [AAE_TRACKING, true]``.
    enabled = c.Type(bool, default=True)
    #: Also track hand-written .html files copied from docs_dir as they are.
    static_html = c.Type(bool, default=True)


class AaeTrackingPlugin(BasePlugin[AaeTrackingConfig]):
    """The MkDocs plugin ``aae-tracking``: validates the options once (``on_config``), then adds
    the stub and tracker tags to every page, theme template and hand-written ``.html`` file.

    The hooks are in MkDocs' build order. They only translate MkDocs' objects into calls to the
    core (:class:`TrackingConfig`, :func:`render_snippet`, :func:`inject`); every problem the user
    can fix stops the build with one :class:`PluginError` line that names the option or page.
    """

    supports_multiple_instances = False

    def __init__(self) -> None:
        self.tracking: TrackingConfig | None = None
        #: Material's instant navigation: opted-out pages get the tags too (their marker is "off").
        self._instant = False
        #: Where theme templates such as 404.html (served at any depth) find the site root.
        self._site_path = "/"
        self._static_pages: list[File] = []
        #: The tracker builds whose script files this build wrote (external mode): a page
        #: that overrides ``facebook_pixel_id`` may need another one than the site's.
        self._builds_written: set[str] = set()
        #: Threads that parse pages while MkDocs renders the next ones (0: parse in line).
        self._workers = 0
        self._settler: BackgroundSettler | None = None
        #: This build's pages are settled: later ones (other plugins' on_post_build) in line.
        self._pages_settled = False
        #: The page markers of the site's own settings (True) and of opted-out pages (False):
        #: the same for most pages, so rendered once per build.
        self._markers: dict[bool, str] = {}
        self._snippets: dict[str, Snippet] = {}

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        """Validate the options into a :class:`TrackingConfig` (``None`` with ``enabled: false``).

        Raises:
            PluginError: a setting is not valid; one line naming it, e.g.
                ``aae-tracking: plugin option events[1].selector: is not a valid CSS selector``.
        """
        if not self.config.enabled:
            self.tracking = None
            return config
        settings = {key: self.config[key] for key in SETTING_NAMES}
        try:
            self.tracking = TrackingConfig.from_mapping(settings)
            # Material's cookie consent (extra.consent) lists us: follow the visitor's choice.
            self.tracking, warning = follow_material_consent(
                self.tracking, config.theme.name, config.extra, self.config.consent
            )
        except ConfigError as exc:
            raise PluginError(f"aae-tracking: plugin option {exc}") from None
        if warning is not None:
            log.warning(warning)
        # Read the theme the way mkdocs-material's own plugins do.
        features = config.theme.get("features") or []
        self._instant = config.theme.name == "material" and "navigation.instant" in features
        site_path = urlsplit(config.site_url or "").path
        self._site_path = site_path if site_path.endswith("/") else site_path + "/"
        self._workers = worker_threads() if _COMBINED_EVENTS else 0
        self._markers, self._snippets = {}, {}
        return config

    #: ``mkdocs serve`` (not ``--clean``): MkDocs also builds the files of ``draft_docs`` then.
    _serving = False

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember whether this is ``mkdocs serve`` (it also builds ``draft_docs`` files)."""
        # MkDocs passes "serve" exactly when it builds with a serve URL (``serve --clean`` is a
        # "build"), the condition under which it also writes drafts (commands/build.py).
        self._serving = command == "serve"

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        """A new build (``mkdocs serve`` rebuilds with the same plugin): no page settled yet;
        worker threads a failed earlier build left are stopped."""
        self._pages_settled = False
        settler, self._settler = self._settler, None
        if settler is not None:
            settler.close()

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files | None:
        """Note the hand-written ``.html``/``.htm`` files; returns ``files`` unchanged."""
        # Whether each file is in the build is read in on_post_build: MkDocs settles inclusion
        # (exclude_docs, draft_docs) for files added by other plugins after this event.
        self._static_pages = [
            file
            for file in files
            if file.src_uri.lower().endswith((".html", ".htm")) and not file.is_documentation_page()
        ]
        return files

    def _snippet(self, tracking: TrackingConfig, dest_uri: str | None) -> Snippet:
        """The tags for a page written at ``dest_uri`` (``None``: served at any depth)."""
        root = self._site_path if dest_uri is None else root_for(dest_uri)
        if tracking is not self.tracking:
            return render_snippet(tracking, root)  # front-matter overrides
        snippet = self._snippets.get(root)  # the site's settings: one per directory depth
        if snippet is None:
            snippet = self._snippets[root] = render_snippet(tracking, root)
        return snippet

    def on_env(
        self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files
    ) -> jinja2.Environment | None:
        """Write the external script files (``inline_script: false``) before any page.

        Raises:
            PluginError: the files cannot be written into ``site_dir`` (names the directory).
        """
        # After MkDocs cleaned site_dir, before any page: `mkdocs serve` serves the files too.
        self._builds_written = set()
        if self.tracking is not None:
            self._write_files(self.tracking, config)
        return env

    def _write_files(self, tracking: TrackingConfig, config: MkDocsConfig) -> None:
        """External mode: make sure the script files ``tracking`` loads are in site_dir."""
        build_name = tracker_build(tracking)
        if tracking.inline_script or build_name in self._builds_written:
            return
        try:
            write_script_files(config.site_dir, tracking)
        except OSError as exc:
            raise PluginError(
                f"aae-tracking: cannot write the script files into {config.site_dir}: {exc}"
            ) from None
        self._builds_written.add(build_name)

    @event_priority(_LAST)
    def on_page_content(
        self, html: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str | None:
        """``html`` with the page marker (the page's ids, or \"off\") appended to its content.

        Raises:
            PluginError: the page's front matter ``aae_tracking`` is not valid.
        """
        # Inside the content Material swaps on instant navigation: the tracker reads the
        # current page's settings (or "off") from it at every PageView and click.
        if self.tracking is None:
            return html
        tracking = self._page_tracking(page)
        if tracking is not None and tracking is not self.tracking:
            return html + render_page_marker(tracking)  # front-matter overrides
        marker = self._markers.get(tracking is not None)
        if marker is None:
            marker = self._markers[tracking is not None] = render_page_marker(tracking)
        return html + marker

    def _report(self, where: str, result: InjectionResult) -> str:
        if result.worth_a_warning:
            log.warning("%s left untracked: %s", where, result.skipped_reason)
        return result.html

    @event_priority(_LAST)
    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str | None:
        """The rendered page with the tags inserted (or unchanged, with a warning, when the
        engine leaves it alone; unchanged and silent when the page opts out).

        Raises:
            PluginError: the page's front matter is not valid, or script files cannot be written.
        """
        if self.tracking is None:
            return output
        tracking = self._page_tracking(page)
        if tracking is None:
            if not self._instant:
                return output
            # A visit may start here and go on by instant navigation: load the tracker with the
            # site settings; the page's "off" marker keeps this page itself silent.
            tracking = self.tracking
        self._write_files(tracking, config)
        snippet = self._snippet(tracking, page.file.dest_uri)
        if self._workers < 1 or self._pages_settled:
            return self._report(page.file.src_uri, inject(output, snippet))
        # The tags at their first spots now; the parse that confirms them runs on a worker
        # thread while MkDocs renders the next pages (settled in on_post_build).
        guess = speculate(output, snippet)
        if not isinstance(guess, Speculation):
            return self._report(page.file.src_uri, guess)
        if self._settler is None:
            self._settler = BackgroundSettler(self._workers, self._rewrite)
        self._settler.submit(page.file.src_uri, page.file.abs_dest_path, guess)
        return guess.output

    def _page_tracking(self, page: Page) -> TrackingConfig | None:
        """The settings of ``page``: the site's with its front-matter overrides applied
        (``aae_tracking: {variant: B}``), or ``None`` when it opts out (``aae_tracking: false``).

        Raises:
            PluginError: the front matter is not ``false``/``true``/a mapping of
                :data:`_OVERRIDABLE` keys, or an override is not valid (one line naming the page).
        """
        assert self.tracking is not None
        setting: Any = page.meta.get(FRONT_MATTER_KEY, True)
        where = f"aae-tracking: {page.file.src_uri}: front matter '{FRONT_MATTER_KEY}'"
        if setting is False:
            return None
        if setting is True or setting is None:
            return self.tracking
        if not isinstance(setting, dict):
            raise PluginError(
                f"{where} must be false (opt out) or a mapping with any of "
                f"{', '.join(_OVERRIDABLE)}, got {setting!r}"
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
                facebook_pixel_id=setting.get("facebook_pixel_id"),
                variant=setting.get("variant"),
            )
        except ConfigError as exc:
            raise PluginError(f"{where}: {exc}") from None

    @event_priority(_LAST)
    def on_post_template(
        self, output_content: str, *, template_name: str, config: MkDocsConfig
    ) -> str | None:
        """A theme template's output (e.g. ``404.html``) with the tags, root-relative links."""
        # Theme templates include 404.html, but also sitemap.xml: only HTML gets a tracker.
        if self.tracking is None or not template_name.lower().endswith((".html", ".htm")):
            return output_content
        snippet = self._snippet(self.tracking, None)
        return self._report(template_name, inject(output_content, snippet))

    @event_priority(_FIRST)
    def _settle_pages(self, *, config: MkDocsConfig) -> None:
        """Wait for the pages' parses; each page whose first spots were not confirmed is
        rewritten with what :func:`inject` gives (another spot, or the page as it was, with a
        warning). Pages rendered after this (by other plugins' ``on_post_build``, as i18n
        plugins do) are parsed in line."""
        self._pages_settled = True
        self._settle()

    def _settle(self) -> None:
        settler, self._settler = self._settler, None
        if settler is not None:
            settler.settle()

    def _rewrite(self, page: Unconfirmed) -> None:
        """Put the settled page on disk in place of the speculative one MkDocs wrote."""
        try:
            # MkDocs encodes pages so (commands/build.py, _build_page).
            reason = rewrite(page, errors="xmlcharrefreplace")
        except OSError as exc:
            log.warning("%s: cannot rewrite %s (%s)", page.where, page.path, exc)
            return
        if reason is not None:
            log.warning("%s left untracked: %s", page.where, reason)

    @event_priority(_LAST)
    def _track_static_pages(self, *, config: MkDocsConfig) -> None:
        """Insert the tags into the hand-written pages MkDocs copied, in their own encoding
        (``static_html: false`` turns this off). Unreadable files are warned about, not fatal."""
        if self.tracking is None or not self.config.static_html:
            return
        # The files MkDocs copied into site_dir, by its own rule (InclusionLevel, MkDocs 1.5+):
        # never exclude_docs, and draft_docs only under `mkdocs serve`.
        included = _IN_SERVE if self._serving else InclusionLevel.is_included
        for file in self._static_pages:
            if not included(file.inclusion):
                continue
            dest_uri = file.dest_uri
            snippet = self._snippet(self.tracking, dest_uri)
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

    #: First the pages parsed in the background are settled (before other plugins read the
    #: site), last the hand-written pages MkDocs copied are tracked (after others wrote them).
    if _COMBINED_EVENTS:
        on_post_build = mkdocs_plugins.CombinedEvent(_settle_pages, _track_static_pages)
    else:  # MkDocs 1.5: nothing to settle (pages parsed in line)
        on_post_build = _track_static_pages  # type: ignore[assignment]

    def on_build_error(self, *, error: Exception) -> None:
        """A failed build: settle the pages written so far (none keeps unconfirmed tags), then
        stop the worker threads. Nothing raised here hides the build's own error."""
        try:
            self._settle()
        except Exception as exc:  # the build's own error is the one to show
            log.warning("pages written before the error may be left unconfirmed: %s", exc)

    def on_shutdown(self) -> None:
        """``mkdocs serve`` stopped: stop the worker threads, if a build left any."""
        settler, self._settler = self._settler, None
        if settler is not None:
            settler.close()
