"""The core: settings, the HTML engine and the rendering of the tags.

It knows nothing of MkDocs, Pelican, the command-line tool or the collector (an import contract in
``pyproject.toml``, checked by ``tests/unit/test_static_checks.py``, keeps it that way): the
integrations in :mod:`aae_tracking_plugins.integrations` and the CLI in
:mod:`aae_tracking_plugins.cli` only translate their own settings and files into calls to it.
"""
