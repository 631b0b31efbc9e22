#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite: installs the dependencies,
# builds everything, fetches the default model, runs the fuzz targets for a bounded time under
# ASan/UBSan (clang build in build-fuzz/), then the whole suite with CTest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CYLLM_BUILD_DIR:-$here/build}
"$here/scripts/setup-deps.sh" --tests
"$here/scripts/fetch-model.sh"
"$here/scripts/build.sh"

fuzz_build=${CYLLM_FUZZ_BUILD_DIR:-$here/build-fuzz}
if [ ! -f "$fuzz_build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$here" -B "$fuzz_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCYLLM_BUILD_FUZZERS=ON -DCYLLM_SANITIZE=ON -DCYLLM_ENABLE_CUDA=OFF -DCYLLM_WITH_QT=OFF \
    -DCYLLM_BUILD_TESTS=OFF
fi
cmake --build "$fuzz_build" --target cyllm_fuzzers
echo "== fuzzing (ASan/UBSan, bounded time) ==" >&2
(cd "$fuzz_build" && ctest --output-on-failure -L fuzz -j"${CYLLM_TEST_JOBS:-2}")

echo "== test suite ==" >&2
cd "$build"
ctest --output-on-failure -j"${CYLLM_TEST_JOBS:-2}" "$@"
