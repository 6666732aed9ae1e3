"""``AAE_CAPI_GRAPH_URL`` that ``urllib`` cannot split (an unclosed ``[``): the one-line error
names the variable, as for every other bad value of it, rather than urllib's bare
"Invalid IPv6 URL" (which ``aae-tracking collect`` printed without saying which setting)."""

from __future__ import annotations

import pytest

from aae_tracking_plugins.collector.capi import CapiSettings

pytestmark = pytest.mark.collector


def test_an_unsplittable_graph_url_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^AAE_CAPI_GRAPH_URL must be an http\(s\) URL"):
        CapiSettings.from_environment(
            {
                "AAE_CAPI_PIXEL_ID": "123",
                "AAE_CAPI_ACCESS_TOKEN": "t0ken",
                "AAE_CAPI_GRAPH_URL": "http://[graph.internal",
            }
        )
