"""Thin generator integrations: they read a generator's settings and pages and call the core.

:mod:`.mkdocs` is the MkDocs plugin (entry point ``aae-tracking``); :mod:`.pelican` is the Pelican
plugin, loaded through the namespace package ``pelican.plugins.aae_tracking``.
"""
