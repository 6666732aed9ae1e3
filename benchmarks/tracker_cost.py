"""Main-thread cost of our tags at page load in headless Chromium, next to the same bare page.

    .venv/bin/python benchmarks/tracker_cost.py [--loads 40] [--settle-ms 500] [--control]
        [--floor] [--json]

What runs: a small landing page (heading, paragraph, CTA link, no scripts of its own) served over
HTTP on 127.0.0.1, once bare and once per variant with our tags injected by the real engine
(``render_snippet`` + ``inject``): the default tracker, the batch tracker (``batch: true``, when
``static/tracker.batch.min.js`` and the setting exist), and the external mode (``inline_script:
false``: the stub and tracker loaded from the hashed files ``write_script_files`` puts in
``aae-tracking/``, when the snippet module offers it). The events go to a real
``EventCollector`` on loopback, so the sending path (cookie, ``sendBeacon``/``fetch``) is the
real one; a load only counts once its PageView has reached the collector. Chromium runs with
``--disable-blink-features=AutomationControlled`` so ``navigator.webdriver`` is false, as for a
real visitor (the tracker skips automation unless ``track_automation`` is set).

Per load: a fresh browser context, a Chromium trace (devtools.timeline, v8, blink.user_timing)
from before the navigation until ``load`` + ``--settle-ms`` (and the PageView's arrival), so
work deferred to timers or idle callbacks in that window counts too. Loads alternate between
the variants (the order rotates every round) so machine noise hits every row alike; one
unmeasured warm-up round comes first.

Method: **attribution by source position**. V8's trace events carry the script URL and the
1-based line/column of the code they run (``EvaluateScript`` and ``v8.compile`` for a script's
first run, ``FunctionCall`` for every later callback: event listeners, timers, idle callbacks).
An inline script's events carry the document URL plus its position, and the benchmark knows
exactly where ``inject`` put our tags, so each event is ours when its position falls inside
our inserted text (or its URL is one of our external files). Per load, "added script" is the
sum of the outermost events of ours on the page's renderer main thread (a listener's
``FunctionCall`` widened to V8's ``v8.callFunction`` around it), compile included. This counts
everything our code does synchronously (cookie, storage, crypto, ``sendBeacon``, any forced
style/layout) and nothing of the page's own scripts, with no subtraction of two noisy totals;
the table gives its median and p90 over the loads.

Cross-check: "d total" is the difference of medians of *all* main-thread JavaScript time
(outermost compile/run/callback/GC events, any source) with the tags and on the bare page. It
catches costs that escape attribution (garbage collection, work scheduled through the
browser), at the price of more noise; the two should agree within a few tenths of a ms.

Also per variant: long tasks (> 50 ms, from a ``PerformanceObserver('longtask')`` an init
script registers; the count over all loads), layout reads (``Layout``/``UpdateLayoutTree``
trace events nested inside our code, i.e. style or layout our script forced synchronously;
the count over all loads), and time to PageView (from ``navigationStart`` to the
``ResourceSendRequest`` of the request to the collector, both in the trace's clock; median).

``--floor`` adds a row with two minimal inline scripts in the places of ours (the first reads
``location.href``, the second its own ``dataset``): on a page without scripts of its own, the
first script and the first DOM access pay for setting up the page's JavaScript context and DOM
wrappers, whoever runs them. The row shows that floor; "at load" minus it is what our code adds
beyond merely being a script.

``--control`` adds a row whose tags also carry a 5 ms busy loop: it must read about 5 ms above
the default row, which shows the method sees what runs in our tags. The figures depend on the
machine: compare rows of one run, not runs on different machines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from playwright.sync_api import Browser, sync_playwright

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core import tags as snippet_module
from aae_tracking_plugins.core.engine.inject import Snippet, inject
from aae_tracking_plugins.core.settings import TrackingConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.static_server import CHROMIUM_ARGS, start_static_server

BARE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spring offer</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}
.cta-button{padding:.6em 1em;background:#0a6;color:#fff}</style>
</head>
<body>
<h1>The spring offer</h1>
<p>Everything you need to get started, delivered in two days. Cancel at any time.</p>
<p><a class="cta-button" href="#buy">Buy now</a></p>
</body>
</html>
"""

#: ``--floor``: two minimal inline scripts where ours go, each touching the page once. On a page
#: with no script of its own the first script pays for setting up the page's JavaScript context
#: and the first DOM access pays for its wrappers, whoever runs them: this row shows that floor.
#: They carry our marker attribute: the engine confirms an insertion by finding its tags.
FLOOR = Snippet(
    head='<script data-aae-tracking="stub">window.__u = location.href</script>',
    body='<script data-aae-tracking="tracker">document.currentScript.dataset.aaeTracking</script>',
)

BUSY_MS = 5.0
CONTROL_TAG = (
    "<script data-aae-benchmark-control>(function(){var t=performance.now();"
    f"while(performance.now()-t<{BUSY_MS:g});}})()</script>"
)

LONGTASK_OBSERVER = """
window.__aaeLongTasks = [];
try {
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { window.__aaeLongTasks.push(e.duration); });
  }).observe({type: "longtask", buffered: true});
} catch (e) {}
"""

TRACE_CATEGORIES = ["devtools.timeline", "v8", "v8.execute", "blink.user_timing"]

# Events that carry the source position of the code they compile or run.
LOCATED = {"EvaluateScript", "v8.compile", "v8.compileModule", "v8.evaluateModule", "FunctionCall"}
# Main-thread JavaScript work of any source, for the "d total" cross-check.
JS_WORK = LOCATED | {
    "v8.callFunction",
    "v8.run",
    "v8.produceCache",
    "TimerFire",
    "FireIdleCallback",
    "FireAnimationFrame",
    "MinorGC",
    "MajorGC",
}
LAYOUT = {"Layout", "UpdateLayoutTree", "RecalculateStyles"}

PAGEVIEW_TIMEOUT_S = 10.0
ATTEMPTS = 3


@dataclasses.dataclass
class Variant:
    """One row: a page file and where our inserted text sits in it."""

    name: str
    label: str
    html: str
    spans: list[tuple[int, int]]  # [start, end) character offsets of our inserted tags
    external: list[str] = dataclasses.field(default_factory=list)  # our script paths
    tracked: bool = True
    samples: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class LoadResult:
    ours_ms: float
    at_load_ms: float  # the part of ours_ms that started before the load event
    ours_cpu_ms: float
    total_ms: float
    layout_reads: int
    layouts: int
    pageview_ms: float | None


# --------------------------------------------------------------------------- pages


def tracked_variant(name: str, label: str, snip: Snippet, external: list[str]) -> Variant:
    """Inject ``snip`` into the bare page with the real engine; record where it landed."""
    result = inject(BARE_PAGE, snip)
    if not result.injected:
        raise SystemExit(f"tracker_cost: inject refused the bench page: {result.skipped_reason}")
    spans = []
    for part in (snip.head, snip.body):
        start = result.html.find(part)
        if start < 0:
            raise SystemExit("tracker_cost: an inserted tag is not found verbatim in the page")
        spans.append((start, start + len(part)))
    return Variant(name, label, result.html, spans, external)


def switch(name: str, value: bool = True) -> dict[str, Any]:
    """A setting that older checkouts do not have, for ``dataclasses.replace``."""
    return {name: value}


def build_variants(
    site: Path, api_base_url: str, control: bool, notes: list[str], floor: bool = False
) -> list[Variant]:
    """The bare page and one page per variant available in this checkout, written to ``site``."""
    fields = {field.name for field in dataclasses.fields(TrackingConfig)}
    static = Path(snippet_module.__file__).parents[1] / "static"
    base = TrackingConfig("lp_bench", api_base_url, "camp_bench")
    variants = [Variant("bare", "bare page (no tags)", BARE_PAGE, [], tracked=False)]
    default = snippet_module.render_snippet(base)
    variants.append(tracked_variant("default", "default", default, []))

    if not (static / "tracker.batch.min.js").is_file():
        notes.append("batch: skipped, no static/tracker.batch.min.js in this checkout")
    elif "batch" not in fields:
        notes.append("batch: skipped, TrackingConfig has no 'batch' setting yet")
    else:
        config = dataclasses.replace(base, **switch("batch"))
        snip = snippet_module.render_snippet(config)
        variants.append(tracked_variant("batch", "batch (batch: true)", snip, []))

    write_files = getattr(snippet_module, "write_script_files", None)
    if "inline_script" not in fields:
        notes.append("external: skipped, TrackingConfig has no 'inline_script' setting yet")
    elif write_files is None:
        notes.append("external: skipped, snippet has no write_script_files() yet")
    else:
        config = dataclasses.replace(base, **switch("inline_script", False))
        write_files(site, config)
        snip = snippet_module.render_snippet(config)  # the page sits at the site root
        paths = ["/" + src for src in re.findall(r'\bsrc="([^"]+)"', snip.head + snip.body)]
        missing = [path for path in paths if not (site / path.lstrip("/")).is_file()]
        if not paths or missing:
            raise SystemExit(f"tracker_cost: external mode: script files missing: {missing}")
        label = "external (inline_script: false)"
        variants.append(tracked_variant("external", label, snip, paths))

    if floor:
        variant = tracked_variant("floor", "floor (two minimal scripts)", FLOOR, [])
        variant.tracked = False
        variants.append(variant)

    if control:
        snip = Snippet(head=default.head, body=default.body + CONTROL_TAG)
        label = f"control (default + {BUSY_MS:g} ms loop)"
        variants.append(tracked_variant("control", label, snip, []))

    for variant in variants:
        (site / f"{variant.name}.html").write_text(variant.html, "utf-8")
    return variants


# --------------------------------------------------------------------------- trace analysis


def analyse(
    trace: dict[str, Any], variant: Variant, page_url: str, events_url: str, load_ms: float
) -> LoadResult | None:
    """The figures of one load from its trace, or ``None`` if the navigation is not in it."""
    events: list[dict[str, Any]] = trace["traceEvents"]
    nav = None
    for event in events:
        data = event.get("args", {}).get("data", {})
        if event.get("name") == "navigationStart" and data.get("documentLoaderURL") == page_url:
            nav = event
            break
    if nav is None:
        return None
    pid, tid, nav_ts = nav["pid"], nav["tid"], nav["ts"]
    # navigationStart is the page's time origin: the load event's end in trace microseconds.
    load_ts = nav_ts + load_ms * 1000

    line_starts = [0] + [i + 1 for i, char in enumerate(variant.html) if char == "\n"]
    origin = page_url.split("/", 3)
    base = f"{origin[0]}//{origin[2]}"
    external = {base + path for path in variant.external}
    document = page_url.split("?")[0].split("#")[0]

    def is_ours(event: dict[str, Any]) -> bool:
        if event["name"] not in LOCATED:
            return False
        data = event.get("args", {}).get("data", {})
        url = str(data.get("url", "")).split("#")[0]
        if url in external:
            return True
        if url.split("?")[0] != document or "lineNumber" not in data:
            return False
        line, column = int(data["lineNumber"]), int(data.get("columnNumber", 1))
        if not 1 <= line <= len(line_starts):
            return False
        offset = line_starts[line - 1] + column - 1
        return any(start <= offset < end for start, end in variant.spans)

    main = [
        event
        for event in events
        if event.get("pid") == pid
        and event.get("tid") == tid
        and event.get("ph") == "X"
        and event.get("ts", 0) >= nav_ts
    ]
    main.sort(key=lambda event: (event["ts"], -event.get("dur", 0)))
    ours_us = ours_cpu_us = total_us = at_load_us = 0
    layout_reads = layouts = 0
    # Stack of open events: (end, name, dur, thread time, ours, inside ours, inside JS work).
    stack: list[tuple[int, str, int, int, bool, bool, bool]] = []
    for event in main:
        ts, dur, name = event["ts"], event.get("dur", 0), event["name"]
        cpu = event.get("tdur", dur)
        while stack and stack[-1][0] <= ts:
            stack.pop()
        parent = stack[-1] if stack else None
        in_ours = parent is not None and (parent[4] or parent[5])
        in_js = parent is not None and (parent[6] or parent[1] in JS_WORK)
        ours = is_ours(event)
        if ours and not in_ours:
            # A listener runs inside V8's v8.callFunction: count that wrapper too.
            wrapped = parent is not None and parent[1] == "v8.callFunction"
            ours_us += parent[2] if wrapped and parent is not None else dur
            ours_cpu_us += parent[3] if wrapped and parent is not None else cpu
            if ts < load_ts:
                at_load_us += parent[2] if wrapped and parent is not None else dur
        if name in JS_WORK and not in_js:
            total_us += dur
        if name in LAYOUT:
            layouts += 1
            if in_ours:
                layout_reads += 1
        stack.append((ts + dur, name, dur, cpu, ours, in_ours, in_js))

    pageview_ms = None
    for event in events:
        data = event.get("args", {}).get("data", {})
        if (
            event.get("name") == "ResourceSendRequest"
            and str(data.get("url", "")).startswith(events_url)
            and data.get("requestMethod") == "POST"
        ):
            delay = (event["ts"] - nav_ts) / 1000
            pageview_ms = delay if pageview_ms is None else min(pageview_ms, delay)
    return LoadResult(
        ours_us / 1000,
        at_load_us / 1000,
        ours_cpu_us / 1000,
        total_us / 1000,
        layout_reads,
        layouts,
        pageview_ms,
    )


# --------------------------------------------------------------------------- loads


class PageViews:
    """PageView arrivals at the collector, by page URL (epoch seconds)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.arrived: dict[str, float] = {}

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("event_type") != "PageView":
            return
        url = str(event.get("event_data", {}).get("url", ""))
        with self.cond:
            self.arrived.setdefault(url, time.time())
            self.cond.notify_all()

    def wait(self, url: str, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: url in self.arrived, timeout)
            return self.arrived.get(url)


def load_once(
    browser: Browser,
    variant: Variant,
    url: str,
    collector: EventCollector,
    pageviews: PageViews,
    settle_ms: float,
) -> dict[str, Any]:
    """Load ``url`` once in a fresh context under a trace; the load's figures as a dict.

    On failure the dict holds only ``"error"``: why the load cannot count.
    """
    refused = len(collector.rejected)
    context = browser.new_context()
    try:
        context.add_init_script(LONGTASK_OBSERVER)
        page = context.new_page()
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        page.goto(url, wait_until="load")
        loaded = time.monotonic()
        arrived = pageviews.wait(url, PAGEVIEW_TIMEOUT_S) if variant.tracked else None
        left = settle_ms / 1000 - (time.monotonic() - loaded)
        if left > 0:
            page.wait_for_timeout(left * 1000)
        trace = json.loads(browser.stop_tracing())
        long_tasks = [float(duration) for duration in page.evaluate("window.__aaeLongTasks")]
        time_origin = float(page.evaluate("performance.timeOrigin"))
        load_ms = float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    finally:
        context.close()
    result = analyse(trace, variant, url, collector.events_url, load_ms)
    if result is None:
        return {"error": "navigation not found in the trace"}
    if variant.tracked and arrived is None:
        reasons = collector.rejected[refused:]
        why = f" (the collector refused: {reasons[-1][0]} {reasons[-1][1]})" if reasons else ""
        return {"error": f"no PageView reached the collector{why}"}
    pageview_ms = result.pageview_ms
    if pageview_ms is None and arrived is not None:  # sent outside the trace: arrival time
        pageview_ms = arrived * 1000 - time_origin
    return {
        "added_script_ms": round(result.ours_ms, 3),
        "at_load_ms": round(result.at_load_ms, 3),
        "added_script_cpu_ms": round(result.ours_cpu_ms, 3),
        "total_script_ms": round(result.total_ms, 3),
        "long_tasks_ms": [round(duration, 1) for duration in long_tasks],
        "layout_reads": result.layout_reads,
        "layouts": result.layouts,
        "pageview_ms": None if pageview_ms is None else round(pageview_ms, 2),
    }


@contextmanager
def servers(site: Path) -> Iterator[tuple[str, EventCollector, PageViews]]:
    pageviews = PageViews()
    collector = EventCollector(on_event=pageviews.on_event).start()
    static = None
    try:
        static = start_static_server(site)
        yield static.url, collector, pageviews
    finally:
        if static is not None:
            static.stop()
        collector.stop()


# --------------------------------------------------------------------------- report


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def summarise(variants: list[Variant]) -> list[dict[str, Any]]:
    bare_total = statistics.median(s["total_script_ms"] for s in variants[0].samples)
    bare_layouts = statistics.median(s["layouts"] for s in variants[0].samples)
    rows = []
    for variant in variants:
        samples = variant.samples
        added = [s["added_script_ms"] for s in samples]
        pageviews = [s["pageview_ms"] for s in samples if s["pageview_ms"] is not None]
        rows.append(
            {
                "variant": variant.name,
                "label": variant.label,
                "loads": len(samples),
                "added_script_ms_median": round(statistics.median(added), 3),
                "added_script_ms_p90": round(p90(added), 3),
                "at_load_ms_median": round(statistics.median(s["at_load_ms"] for s in samples), 3),
                "added_script_cpu_ms_median": round(
                    statistics.median(s["added_script_cpu_ms"] for s in samples), 3
                ),
                "delta_total_script_ms": round(
                    statistics.median(s["total_script_ms"] for s in samples) - bare_total, 3
                ),
                "long_tasks": sum(len(s["long_tasks_ms"]) for s in samples),
                "layout_reads": sum(s["layout_reads"] for s in samples),
                "delta_layouts_median": statistics.median(s["layouts"] for s in samples)
                - bare_layouts,
                "pageview_ms_median": round(statistics.median(pageviews), 1) if pageviews else None,
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]], loads: int, settle_ms: float) -> None:
    print(f"Main-thread script time of our tags at page load, headless Chromium, {loads} loads")
    print(f"per row (interleaved, fresh context each), settle window: load + {settle_ms:g} ms.")
    print()
    header = (
        f"{'variant':32} {'at load':>7} {'added ms':>8} {'p90':>6} {'cpu':>5} {'d total':>7} "
        f"{'long tasks':>10} {'layout reads':>12} {'PageView ms':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        bare = row["variant"] == "bare"
        pageview = row["pageview_ms_median"]
        print(
            f"{row['label']:32} "
            f"{'-' if bare else format(row['at_load_ms_median'], '.2f'):>7} "
            f"{'-' if bare else format(row['added_script_ms_median'], '.2f'):>8} "
            f"{'-' if bare else format(row['added_script_ms_p90'], '.2f'):>6} "
            f"{'-' if bare else format(row['added_script_cpu_ms_median'], '.2f'):>5} "
            f"{'-' if bare else format(row['delta_total_script_ms'], '+.2f'):>7} "
            f"{row['long_tasks']:>10} "
            f"{'-' if bare else str(row['layout_reads']):>12} "
            f"{'-' if pageview is None else format(pageview, '.1f'):>11}"
        )
    print()
    print("at load: our script time until the load event (evaluation and init; median)")
    print("added ms / p90: all script time attributed to our tags, the idle-time sending")
    print("  after the load event included (median / 90th percentile per load)")
    print("cpu: the main thread's CPU time within them (median); the rest is waiting, e.g. IPC")
    print("d total: median of all main-thread JS time minus the bare page's (cross-check)")
    print("long tasks, layout reads: counts over all loads of the row (target: 0)")
    print("PageView ms: navigationStart to the request leaving for the collector (median)")


def run_loads(
    variants: list[Variant],
    base_url: str,
    collector: EventCollector,
    pageviews: PageViews,
    args: Options,
    chromium: str,
    retried: list[str],
) -> str:
    """Every round loads every variant once (rotating order); returns Chromium's version.

    A load that fails (no PageView in time, navigation missing from the trace) is repeated, up
    to ``ATTEMPTS`` times, and listed in ``retried``; then the run stops.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[*CHROMIUM_ARGS, "--disable-blink-features=AutomationControlled"],
        )
        try:
            for round_no in range(-1, args.loads):  # round -1: warm-up, not recorded
                shift = round_no % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    for attempt in range(1, ATTEMPTS + 1):
                        # A UTM parameter: the tracker keeps it in the URL it sends (it drops
                        # other query parameters), so the PageView names its load.
                        load = f"utm_content=load-{round_no + 1}.{attempt}"
                        url = f"{base_url}/{variant.name}.html?{load}"
                        sample = load_once(
                            browser, variant, url, collector, pageviews, args.settle_ms
                        )
                        if "error" not in sample:
                            break
                        retried.append(f"{variant.name}: {sample['error']}")
                    else:
                        raise SystemExit(
                            f"tracker_cost: {variant.name}: {sample['error']} ({ATTEMPTS} attempts)"
                        )
                    if round_no >= 0:
                        variant.samples.append(sample)
            return browser.version
        finally:
            browser.close()


@dataclasses.dataclass(frozen=True)
class Options:
    """The command line (see ``main``): loads per row, trace window in ms, extra rows, JSON."""

    loads: int
    settle_ms: float
    control: bool
    floor: bool
    json: bool


@click.command(help=__doc__.splitlines()[0], context_settings={"show_default": True})
@click.option("--loads", type=click.IntRange(min=1), default=40, help="measured loads per row")
@click.option(
    "--settle-ms",
    type=click.FloatRange(min=0),
    default=500,
    help="trace window after the load event",
)
@click.option("--control", is_flag=True, help=f"add a row with a {BUSY_MS:g} ms busy loop")
@click.option(
    "--floor",
    is_flag=True,
    help="add a row with two minimal inline scripts where ours go (what any script pays)",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of the table")
def main(loads: int, settle_ms: float, control: bool, floor: bool, as_json: bool) -> None:
    """Measure every variant; prints the table (or JSON with every sample) and the notes.

    Raises:
        SystemExit: no ``chromium`` on PATH, or a load failed ``ATTEMPTS`` times.
    """
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("tracker_cost: no 'chromium' on PATH (Debian package chromium)")
    measure(Options(loads, settle_ms, control, floor, as_json), chromium)


def measure(args: Options, chromium: str) -> None:
    """Load the variants ``args.loads`` times each with ``chromium`` and print the report."""
    notes: list[str] = []
    retried: list[str] = []
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aae-tracker-cost-") as tmp:
        site = Path(tmp)
        with servers(site) as (base_url, collector, pageviews):
            variants = build_variants(site, collector.url, args.control, notes, args.floor)
            version = run_loads(variants, base_url, collector, pageviews, args, chromium, retried)
            if collector.rejected:
                notes.append(f"the collector refused {len(collector.rejected)} request(s)")
    if retried:
        notes.append(f"{len(retried)} load(s) repeated: {'; '.join(sorted(set(retried)))}")
    load = max(load_before, os.getloadavg()[0])
    cores = os.cpu_count() or 1
    if load > 0.75 * cores:
        notes.append(
            f"machine busy (load average {load:.1f} on {cores} cores): times are inflated, "
            "rerun on a quiet machine"
        )
    rows = summarise(variants)
    default = next(row for row in rows if row["variant"] == "default")
    control = next((row for row in rows if row["variant"] == "control"), None)
    elapsed = time.monotonic() - started
    command = shlex.join(sys.orig_argv)
    if args.json:
        report = {
            "command": command,
            "chromium": version,
            "loads": args.loads,
            "settle_ms": args.settle_ms,
            "seconds": round(elapsed, 1),
            "notes": notes,
            "rows": rows,
            "samples": {variant.name: variant.samples for variant in variants},
        }
        print(json.dumps(report, indent=2))
        return
    print_table(rows, args.loads, args.settle_ms)
    if control is not None:
        extra = control["added_script_ms_median"] - default["added_script_ms_median"]
        print(
            f"control check: control - default = {extra:+.2f} ms attributed, "
            f"{control['delta_total_script_ms'] - default['delta_total_script_ms']:+.2f} ms "
            f"d total (busy loop: {BUSY_MS:g} ms)"
        )
    for note in notes:
        print(f"note: {note}")
    print(f"Chromium {version}; {elapsed:.0f} s")
    print(f"command: {command}")


if __name__ == "__main__":
    main()
