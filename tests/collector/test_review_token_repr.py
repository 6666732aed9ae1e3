"""The read and write tokens are secrets (docs/collector.md): no ``repr`` shows them, so no log
line, assertion message or traceback that prints the configuration or the access rules does.
``CollectorConfig`` already kept the write token out of its ``repr``; the read token, and both
tokens as held by :class:`ReadAccess` / :class:`WriteAccess`, were still shown."""

from __future__ import annotations

import pytest

from aae_tracking_plugins.collector.access import ReadAccess, WriteAccess
from aae_tracking_plugins.collector.service import CollectorConfig

pytestmark = pytest.mark.collector


def test_no_repr_shows_a_token() -> None:
    config = CollectorConfig(
        database_url="sqlite:///x.db", read_token="r3ad-s3cret", write_token="wr1te-s3cret"
    )
    shown = [
        repr(config),
        repr(ReadAccess(config.read_token)),
        repr(WriteAccess(config.write_token)),
    ]
    for text in shown:
        assert "s3cret" not in text, text
    assert ReadAccess("a") != ReadAccess("b")  # still compared by token
