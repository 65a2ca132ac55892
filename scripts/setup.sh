#!/usr/bin/env bash
# Set up (or reuse) the project's virtualenv and Anny's model cache, outside the checkout.
#   venv:  ${SYNTH_VENV:-~/.cache/synth/venv} with the test and photo extras, rebuilt when
#          pyproject.toml or this script changes
#   Anny:  ${ANNY_CACHE_DIR:-~/.cache/anny}, built once (~1-3 min, ~1.2 GB), kept by Anny's own version key
# Headless rendering needs EGL + Mesa (libegl1, libgl1-mesa-dri); installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SYNTH_VENV:-$HOME/.cache/synth/venv}"
PYTHON="${PYTHON:-python3}"
KEY="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$($PYTHON -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

if ! ldconfig -p | grep -q 'libEGL.so.1' || ! ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1; then
  echo "setup: installing EGL/Mesa for headless rendering (libegl1 libgl1-mesa-dri)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libegl1 libgl1-mesa-dri libgles2 >/dev/null
fi

if [ "$(cat "$VENV/.synth-key" 2>/dev/null)" != "$KEY" ]; then
  echo "setup: creating $VENV (key $KEY); this takes a few minutes once" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # torch first, pinned: 2.13.0 is the CPU build on these machines; later installs keep it.
  "$VENV/bin/pip" install -q torch==2.13.0
  "$VENV/bin/pip" install -q -e ".[test,photo]"
  echo "$KEY" > "$VENV/.synth-key"
fi
# Point the editable install at this checkout (a fresh clone may live elsewhere); pip's
# build chatter is shown only if it fails.
if ! log="$("$VENV/bin/pip" install -q --no-deps -e . 2>&1)"; then echo "$log" >&2; exit 1; fi
"$VENV/bin/synth" models prepare
