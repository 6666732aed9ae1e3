"""``python -m aae_tracking_plugins.collector``: the local development collector."""

from __future__ import annotations

import sys

from aae_tracking_plugins.collector.cli import main

sys.exit(main())
