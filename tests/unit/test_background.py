"""The MkDocs plugin's worker threads: unconfirmed pages are rewritten while the build runs."""

from __future__ import annotations

from pathlib import Path

from aae_tracking_plugins.core.engine.inject import AMP_PAGE, Speculation, inject, speculate
from aae_tracking_plugins.integrations.background import BackgroundSettler, Unconfirmed, rewrite
from tests.engine_helpers import SNIPPET

#: The last ``</body`` is a decoy in a comment: the first spots are wrong.
DECOY = "<!doctype html><html><head></head><body><p>x</p></body></html><!-- </body> -->"


def unconfirmed(page: str, path: Path) -> Unconfirmed:
    guess = speculate(page, SNIPPET)
    assert isinstance(guess, Speculation)
    return Unconfirmed("page.md", str(path), guess.output, guess.settle(), SNIPPET)


def test_unconfirmed_pages_are_handed_on_during_the_build_not_kept_to_its_end() -> None:
    """Memory stays bounded: page n's parse result is handled by the time page n+2 is queued."""
    handled: list[Unconfirmed] = []
    settler = BackgroundSettler(1, handled.append, backlog=1)
    for n in range(8):
        guess = speculate(DECOY, SNIPPET)
        assert isinstance(guess, Speculation)
        settler.submit(f"p{n}", f"p{n}.html", guess)
        assert len(handled) >= n - 1
    settler.settle()
    assert [page.where for page in handled] == [f"p{n}" for n in range(8)]
    assert all(page.result == inject(DECOY, SNIPPET) for page in handled)
    assert all(page.result.html != page.written for page in handled)


def test_rewrite_puts_the_settled_page_in_place_of_the_written_one(tmp_path: Path) -> None:
    path = tmp_path / "index.html"
    page = unconfirmed(DECOY, path)
    path.write_text(page.written, "utf-8")
    assert rewrite(page) is None
    assert path.read_text("utf-8") == inject(DECOY, SNIPPET).html


def test_rewrite_places_the_tags_in_what_a_later_plugin_wrote(tmp_path: Path) -> None:
    path = tmp_path / "index.html"
    page = unconfirmed(DECOY, path)
    path.write_text(page.written + "<!-- minified -->", "utf-8")
    assert rewrite(page) is None
    assert path.read_text("utf-8") == inject(DECOY + "<!-- minified -->", SNIPPET).html


def test_rewrite_takes_our_tags_out_of_a_page_that_is_no_visit_any_more(tmp_path: Path) -> None:
    """The page turned into an AMP page after us: it keeps none of our speculative tags."""
    path = tmp_path / "index.html"
    page = unconfirmed(DECOY, path)
    amp = page.written.replace("<html>", "<html amp>", 1)
    path.write_text(amp, "utf-8")
    assert rewrite(page) == AMP_PAGE
    assert path.read_text("utf-8") == DECOY.replace("<html>", "<html amp>", 1)


def test_rewrite_leaves_a_file_without_our_insertions_alone(tmp_path: Path) -> None:
    """Not the page we handed on (another plugin wrote something else there): untouched."""
    path = tmp_path / "index.html"
    page = unconfirmed(DECOY, path)
    path.write_text(DECOY, "utf-8")
    assert rewrite(page) is None
    assert path.read_text("utf-8") == DECOY
    missing = unconfirmed(DECOY, tmp_path / "gone.html")
    assert rewrite(missing) is None
    assert not (tmp_path / "gone.html").exists()
