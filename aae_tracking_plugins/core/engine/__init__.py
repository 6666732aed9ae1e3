"""The injection engine: where the stub and tracker tags go in a page, and proof that they run.

Entry points are :func:`aae_tracking_plugins.core.engine.inject.inject` (text) and
:func:`~aae_tracking_plugins.core.engine.inject.inject_bytes` (a page in its own encoding).
``docs/engine.md`` explains the rules and why an HTML5 parser checks the result.
"""
