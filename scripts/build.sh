#!/usr/bin/env bash
# Configures and builds into build/ (Release, Ninja, ccache when present). Extra arguments are
# passed to `ninja` (e.g. a target name).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CYLLM_BUILD_DIR:-$here/build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCYLLM_PYTHON="$here/.venv/bin/python"
fi
cmake --build "$build" -- "$@"
