#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running workbench: installs the dependencies,
# builds, fetches the default model (SmolLM2-135M-Instruct Q4_1) and starts a chat with it.
# Until the Qt workbench lands this starts `cyllm chat`; extra arguments go to it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup-deps.sh"
"$here/scripts/build.sh" cyllm
"$here/scripts/fetch-model.sh"
exec "${CYLLM_BUILD_DIR:-$here/build}/app/cli/cyllm" chat -m "${CYLLM_MODELS_DIR:-$here/models}/SmolLM2-135M-Instruct.Q4_1.gguf" "$@"
