"""``python -m aae_tracking_plugins``: the ``aae-tracking`` command-line tool."""

from __future__ import annotations

import sys

from aae_tracking_plugins.cli import main

if __name__ == "__main__":
    sys.exit(main())
