"""Precompressed copies of a page (``index.html.gz``, ``.br``, ``.zst``): read, compare, rewrite.

Servers with static precompression (nginx ``gzip_static``/``brotli_static``, Caddy
``precompressed``, ``http.server`` front-ends of CDNs) send ``index.html.br`` instead of
``index.html`` to a browser that accepts Brotli, without looking at the page itself. A copy that
still holds the untracked page is what most visitors get, so ``inject`` rewrites each copy from
the new page and ``check`` fails a page whose copy decompresses to other bytes.

gzip comes with Python; Brotli needs the ``brotli`` package and Zstandard the ``zstandard``
package (the ``precompressed`` extra). Without them a page with such a copy is refused, never
left with a stale copy.
"""

from __future__ import annotations

import gzip
import importlib
import io
import zlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COPY_SUFFIXES",
    "MissingCodecError",
    "compress",
    "copy_name",
    "decompress",
    "missing_codec",
]


@dataclass(frozen=True)
class _Codec:
    name: str
    package: str | None  # the PyPI package that provides it; None: the standard library


_CODECS = {
    ".gz": _Codec("gzip", None),
    ".br": _Codec("Brotli", "brotli"),
    ".zst": _Codec("Zstandard", "zstandard"),
}
#: The suffixes of the copies, as servers look for them (``uri`` + suffix, lower case).
COPY_SUFFIXES = tuple(_CODECS)
#: Compression levels: the strongest, as precompression tools use (the work is done once).
GZIP_LEVEL = 9
BROTLI_QUALITY = 11
ZSTD_LEVEL = 19


class MissingCodecError(Exception):
    """The package that reads and writes a copy's format is not installed (message: which)."""


def copy_name(path: str) -> str:
    """The file name of a copy, for messages (``docs/index.html.br`` -> ``index.html.br``)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _module(suffix: str) -> Any:
    codec = _CODECS[suffix]
    if codec.package is None:
        return None
    try:
        return importlib.import_module(codec.package)
    except ImportError:
        raise MissingCodecError(
            f"the {codec.package} package is not installed, which {codec.name} ({suffix}) "
            f"needs (pip install {codec.package})"
        ) from None


def missing_codec(suffix: str) -> str | None:
    """Why copies with ``suffix`` cannot be read or written here, or ``None`` when they can."""
    try:
        _module(suffix)
    except MissingCodecError as exc:
        return str(exc)
    return None


def compress(suffix: str, data: bytes) -> bytes:
    """``data`` compressed for a copy with ``suffix`` (one of :data:`COPY_SUFFIXES`).

    gzip without a file name and with modification time 0 (RFC 1952, 2.3.1: "no time stamp is
    available"), so the same page gives the same copy.

    Raises:
        MissingCodecError: ``brotli``/``zstandard`` is not installed.
    """
    module = _module(suffix)
    if suffix == ".gz":
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if suffix == ".br":
        result: bytes = module.compress(data, quality=BROTLI_QUALITY)
        return result
    compressed: bytes = module.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    return compressed


def decompress(suffix: str, data: bytes) -> bytes:
    """What a copy with ``suffix`` holds (every gzip member, every Zstandard frame).

    Raises:
        MissingCodecError: ``brotli``/``zstandard`` is not installed.
        ValueError: ``data`` is not valid in that format (the message says why).
    """
    module = _module(suffix)
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
    try:
        if suffix == ".gz":
            return gzip.decompress(data)
        if suffix == ".br":
            errors = (module.error,)
            result: bytes = module.decompress(data)
            return result
        errors = (module.ZstdError,)
        reader = module.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        with reader:
            content: bytes = reader.read()
        return content
    except errors as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
