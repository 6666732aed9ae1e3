"""A bad setting's one-line error names the setting it came from. ``collect`` labelled every
configuration error whose text held the word "origin" as ``argument --allow-origin``: a bad
``AAE_COLLECTOR_ALLOW_ORIGINS`` (not an argument at all) and even a bad
``AAE_CAPI_GRAPH_URL`` whose host had "origin" in its name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.collector_helpers import AAE_TRACKING

pytestmark = pytest.mark.collector


def collect(tmp_path: Path, env: dict[str, str], *arguments: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AAE_COLLECTOR_", "AAE_CAPI"))}
    result = subprocess.run(
        [str(AAE_TRACKING), "collect", "--port", "0", *arguments],
        capture_output=True, text=True, cwd=tmp_path, timeout=20, env={**base, **env},
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_a_bad_origin_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    err = collect(tmp_path, {"AAE_COLLECTOR_ALLOW_ORIGINS": "shop.example"})
    assert err.startswith("aae-tracking: error: AAE_COLLECTOR_ALLOW_ORIGINS: not an origin:")


def test_a_bad_origin_argument_still_names_the_argument(tmp_path: Path) -> None:
    err = collect(tmp_path, {"AAE_COLLECTOR_ALLOW_ORIGINS": "https://ok.example"},
                  "--allow-origin", "shop.example")  # fmt: skip
    assert err.startswith("aae-tracking: error: argument --allow-origin: not an origin:")


def test_a_graph_url_error_is_not_labelled_as_an_origin(tmp_path: Path) -> None:
    env = {
        "AAE_CAPI_PIXEL_ID": "123",
        "AAE_CAPI_ACCESS_TOKEN": "t0ken",
        "AAE_CAPI_GRAPH_URL": "ftp://origin.example",
    }
    err = collect(tmp_path, env)
    assert err.startswith("aae-tracking: error: AAE_CAPI_GRAPH_URL must be an http(s) URL")
