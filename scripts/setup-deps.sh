#!/usr/bin/env bash
# Installs what CY-LLM Workbench needs to build and test on Debian 12: compilers and libraries from
# Debian's packages, and the Python test oracles from PyPI into ./.venv. Safe to run repeatedly.
# --tests also installs the large test-only oracles (PyTorch + peft, tests/python/requirements-torch.txt);
# scripts/test.sh passes it, scripts/start.sh does not.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
with_tests=0
[ "${1:-}" = "--tests" ] && with_tests=1

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libpcre2-dev nlohmann-json3-dev
  zlib1g-dev libzstd-dev libsnappy-dev libsqlite3-dev libssl-dev libhiredis-dev redis-server
  libgtest-dev librapidcheck-dev libbenchmark-dev
  clang libclang-rt-14-dev prometheus
  python3 python3-venv python3-pip
  qt6-base-dev qt6-httpserver-dev qt6-websockets-dev libqt6sql6-sqlite
  qt6-charts-dev libqt6opengl6-dev libgl-dev qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools xvfb xauth fonts-wqy-microhei
  curl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$here/.venv/bin/python" ]; then
  echo "setup: creating the Python test environment in .venv" >&2
  python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/tests/python/requirements.txt"
# torch + peft for the trainer oracle: large, so in a file of its own (see its header), and only
# for the test suite.
if [ "$with_tests" = 1 ]; then
  "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/tests/python/requirements-torch.txt"
fi
echo "setup: dependencies ready" >&2
