#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running workbench: installs the dependencies,
# builds, fetches the default model (SmolLM2-135M-Instruct Q4_1) and opens `cyllm-workbench` with
# it. Without a display (no $DISPLAY / $WAYLAND_DISPLAY) it says so and starts `cyllm chat` in the
# terminal instead; extra arguments go to whichever starts.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CYLLM_BUILD_DIR:-$here/build}
model="${CYLLM_MODELS_DIR:-$here/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
"$here/scripts/setup-deps.sh"
"$here/scripts/fetch-model.sh"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$here/scripts/build.sh" cyllm cyllm-workbench
  exec "$build/app/workbench/cyllm-workbench" --model "$model" "$@"
fi
echo "start: no display found (DISPLAY/WAYLAND_DISPLAY unset): starting the terminal chat instead" >&2
"$here/scripts/build.sh" cyllm
exec "$build/app/cli/cyllm" chat -m "$model" "$@"
