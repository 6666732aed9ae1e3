"""``AAE_COLLECTOR_TRUST_PROXY`` takes yes/no words; any other value is a one-line error naming
the variable (the project's rule for bad settings), not silently "off": an operator who wrote
``AAE_COLLECTOR_TRUST_PROXY=enabled`` would otherwise forward the proxy's own address to Meta
for every visitor without a word."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.service import CollectorConfig
from tests.collector_helpers import AAE_TRACKING

pytestmark = pytest.mark.collector


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("", False), ("0", False),
     ("false", False), ("no", False), ("off", False)],
)  # fmt: skip
def test_yes_and_no_words(value: str, expected: bool) -> None:
    config = CollectorConfig.from_environment({"AAE_COLLECTOR_TRUST_PROXY": value})
    assert config.trust_proxy is expected


def test_another_value_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^AAE_COLLECTOR_TRUST_PROXY must be 1/true/yes/on"):
        CollectorConfig.from_environment({"AAE_COLLECTOR_TRUST_PROXY": "enabled"})


def test_collect_says_it_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(AAE_TRACKING), "collect", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=20,  # before the fix it served until killed
        env={"PATH": "/usr/bin:/bin", "AAE_COLLECTOR_TRUST_PROXY": "enabled"},
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("aae-tracking: error: AAE_COLLECTOR_TRUST_PROXY must be")
    assert result.stderr.count("\n") == 1
