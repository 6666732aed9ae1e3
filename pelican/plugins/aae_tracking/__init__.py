"""Pelican namespace plugin: ``PLUGINS = ["aae_tracking"]`` loads this module."""

from aae_tracking_plugins.integrations.pelican import register

__all__ = ["register"]
