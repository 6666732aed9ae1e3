#!/usr/bin/env bash
# Install everything the demo and the test suite need, on a fresh Debian machine (root) or again
# on a machine that already has it (each step is skipped when already done).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# System packages: Chromium for the browser tests, Node.js + npm for the tracker's lint and build,
# Firefox ESR and WebKitGTK (WebKitWebDriver, the MiniBrowser of libwebkit2gtk-4.1-0, on Xvfb) for
# the tests that run in every engine (tests/engines; xauth lets `xvfb-run` work by hand too).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
compgen -G '/usr/lib/*/webkit2gtk-4.1/MiniBrowser' >/dev/null || missing+=(libwebkit2gtk-4.1-0)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xauth >/dev/null 2>&1 || missing+=(xauth)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: please install these Debian packages (as root): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pip_quiet() { "$@" 2>&1 | grep -v '^WARNING: Location' || true; test "${PIPESTATUS[0]}" = 0; }

# Main environment: the package (editable) with MkDocs, mkdocs-material and the test tools.
if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
stamp=.venv/.aae-setup
if [ ! -f $stamp ] || [ pyproject.toml -nt $stamp ]; then
  echo "setup: installing the main environment (.venv)"
  pip_quiet .venv/bin/pip install -q --upgrade pip
  pip_quiet .venv/bin/pip install -q hatchling editables mkdocs-material
  pip_quiet .venv/bin/pip install -q --no-build-isolation -e ".[mkdocs,dev]"
  touch $stamp
fi

# Pelican environment, kept apart: pelican pins pygments<2.20, mkdocs-material needs >=2.20.
# The package is installed as a wheel (not editable) so Pelican finds pelican.plugins.aae_tracking
# exactly as it would for a user; it is reinstalled every time so it matches the working tree.
if [ ! -x .venv-pelican/bin/python ]; then "$PYTHON" -m venv .venv-pelican; fi
stamp=.venv-pelican/.aae-setup
if [ ! -f $stamp ] || [ pyproject.toml -nt $stamp ]; then
  echo "setup: installing the Pelican environment (.venv-pelican)"
  pip_quiet .venv-pelican/bin/pip install -q --upgrade pip
  pip_quiet .venv-pelican/bin/pip install -q hatchling editables
  pip_quiet .venv-pelican/bin/pip install -q --no-build-isolation ".[pelican]"
  touch $stamp
fi
pip_quiet .venv-pelican/bin/pip install -q --no-deps --no-build-isolation --force-reinstall .

# Tracker toolchain (eslint, terser) and puppeteer-core (drives Firefox), pinned by package-lock.json.
if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
  echo "setup: installing the tracker's lint/build tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
echo "setup: ready"
