#!/usr/bin/env bash
# One-call check of the CUDA backend on a GPU machine: the kernel-logic test, the per-op harness
# (every kernel against its CPU reference) and the forward pass against the CPU ForwardPass, plus
# `cyllm info --devices --json`. Prints a compact JSON summary on stdout; the full one
# (gpu-check.json) and every log (gpu-check.log) go to $OUT, or ./build-gpu-check.
#
# Two ways to get the binaries:
#   native (default)  configure + build here: cmake -DCYLLM_WITH_QT=OFF -DCYLLM_ENABLE_CUDA=ON with
#                     CMAKE_CUDA_ARCHITECTURES from nvidia-smi, then ninja the engine, the CUDA
#                     tests and the cyllm CLI into build-gpu/. Needs the -dev packages of
#                     scripts/setup-deps.sh (pcre2, nlohmann-json, zlib, sqlite3, openssl, hiredis,
#                     gtest, rapidcheck), which a bare GPU image may lack.
#   --prebuilt DIR    run binaries staged by `--stage DIR` on a machine that has those packages
#                     (no compiler needed here; DIR/lib holds the non-system shared libraries).
#   --stage DIR       (on the development machine, GPU or not) build build-cuda/ and copy the test
#                     binaries, cyllm and their non-system, non-CUDA shared libraries into DIR.
#
# The device session (about 2 minutes of device time with --prebuilt, 5-6 native):
#   here:   scripts/gpu-check.sh --stage build-gpu-stage
#   device: run(command="scripts/gpu-check.sh --prebuilt build-gpu-stage", carry=["build-gpu-stage"], timeout_s=600)
# Exit status: 0 when every test passed, 1 when any failed, 2 when nothing could be built or run
# (no GPU: the GPU tests skip, which is not a pass here).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tests=(kernel_logic_test cuda_ops_test cuda_forward_test)
mode=native
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) mode=prebuilt; dir=${2:?--prebuilt needs a folder}; shift 2 ;;
    --stage) mode=stage; dir=${2:?--stage needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] && case "$dir" in /*) ;; *) dir="$here/$dir" ;; esac
jobs=$(nproc 2>/dev/null || echo 4)

# ---- --stage: build on the development machine and collect what the GPU machine needs --------
if [ "$mode" = stage ]; then
  b="$here/build-cuda"
  if [ ! -f "$b/build.ninja" ]; then
    cmake -S "$here" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCYLLM_WITH_QT=OFF -DCYLLM_ENABLE_CUDA=ON || exit 2
  fi
  ninja -C "$b" -j"$jobs" "${tests[@]}" cyllm || exit 2
  rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/lib"
  for t in "${tests[@]}"; do cp "$b/tests/engine/cuda/$t" "$dir/bin/"; done
  cp "$b/app/cli/cyllm" "$dir/bin/"
  # Shared libraries besides glibc, the C++ runtime and CUDA's own (the GPU machine has its CUDA).
  for f in "$dir"/bin/*; do
    ldd "$f" | awk '$3 ~ /^\// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda*|libcublas*|libnvidia*) ;;
      *) cp -L "$lib" "$dir/lib/" ;;
    esac
  done
  echo "gpu-check: staged $(ls "$dir/bin" | wc -l) binaries and $(ls "$dir/lib" | wc -l) libraries in $dir ($(du -sh "$dir" | cut -f1))" >&2
  exit 0
fi

# Results: the device tool brings back at most 8 files from $OUT, so the per-test files go to a
# scratch folder and only gpu-check.json (full summary) and gpu-check.log (all logs) land in $OUT.
final=${OUT:-$here/build-gpu-check}
mkdir -p "$final"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "gpu-check: GPU: ${gpu:-none found by nvidia-smi}" >&2
status=ok
# Library path for our binaries only (the staged libraries must not reach python3 or nvidia-smi).
libpath="${LD_LIBRARY_PATH:-}"

# ---- native: configure and build here ----------------------------------------------------------
if [ "$mode" = native ]; then
  b="$here/build-gpu"
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
  [ -n "$arch" ] || arch="80;90"
  t0=$(date +%s)
  if ! cmake -S "$here" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCYLLM_WITH_QT=OFF -DCYLLM_ENABLE_CUDA=ON \
       -DCMAKE_CUDA_ARCHITECTURES="$arch" >"$out/configure.log" 2>&1; then
    status=configure_failed
  elif ! ninja -C "$b" -j"$jobs" "${tests[@]}" cyllm >"$out/build.log" 2>&1; then
    status=build_failed
  fi
  echo "gpu-check: $mode build: $status in $(( $(date +%s) - t0 )) s" >&2
  bin="$b/tests/engine/cuda"
  cli="$b/app/cli/cyllm"
else
  bin="$dir/bin"
  cli="$dir/bin/cyllm"
  libpath="$dir/lib${libpath:+:$libpath}"
fi

# CUDA's libraries (cudart, cuBLAS) from the toolkit next to nvcc, if the loader does not know them.
if command -v nvcc >/dev/null 2>&1; then
  cuda_root=$(cd "$(dirname "$(readlink -f "$(command -v nvcc)")")/.." && pwd)
  for d in "$cuda_root/lib64" "$cuda_root/lib" "$cuda_root/targets/x86_64-linux/lib"; do
    [ -d "$d" ] && libpath="${libpath:+$libpath:}$d"
  done
fi
missing=""
if [ "$status" = ok ] && [ -x "$bin/cuda_ops_test" ]; then
  missing=$(LD_LIBRARY_PATH="$libpath" ldd "$bin/cuda_ops_test" "$cli" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
  for lib in $missing; do  # look once in the usual places (pip's nvidia-* wheels included)
    found=$(find /usr/local /opt /usr/lib -maxdepth 8 -name "$lib" 2>/dev/null | head -1)
    if [ -n "$found" ]; then
      d=$(dirname "$found")
      libpath="${libpath:+$libpath:}$d"
    fi
  done
  missing=$(LD_LIBRARY_PATH="$libpath" ldd "$bin/cuda_ops_test" "$cli" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
fi

# ---- run ----------------------------------------------------------------------------------------
if [ "$status" = ok ]; then
  for t in "${tests[@]}"; do
    echo "gpu-check: running $t" >&2
    t0=$(date +%s)
    LD_LIBRARY_PATH="$libpath" timeout 300 "$bin/$t" --gtest_output=json:"$out/$t.json" >"$out/$t.log" 2>&1
    echo "$? $(( $(date +%s) - t0 ))" >"$out/$t.rc"
  done
  LD_LIBRARY_PATH="$libpath" timeout 60 "$cli" info --devices --json >"$out/devices.json" 2>"$out/devices.err"
fi

for f in configure.log build.log "${tests[@]/%/.log}" devices.err; do
  [ -s "$out/$f" ] && { echo "===== $f"; tail -c 4000000 "$out/$f"; }
done >"$final/gpu-check.log"

python3 - "$out" "$status" "$mode" "$gpu" "$missing" "$final" "${tests[@]}" <<'EOF'
import json, os, sys
out, status, mode, gpu, missing, final, tests = sys.argv[1:7] + [sys.argv[7:]]
def tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return None
summary = {"gpu": gpu or None, "mode": mode, "status": status, "missing_libraries": missing.split() or None, "binaries": []}
if status != "ok":
    summary["log_tail"] = tail(os.path.join(out, "configure.log" if status == "configure_failed" else "build.log"))
all_ok = status == "ok"
for t in tests:
    entry = {"binary": t}
    rc_path = os.path.join(out, t + ".rc")
    if not os.path.exists(rc_path):
        entry["ran"] = False
        summary["binaries"].append(entry)
        all_ok = False
        continue
    rc, secs = (int(x) for x in open(rc_path).read().split())
    entry.update(exit_code=rc, seconds=secs)
    try:
        g = json.load(open(os.path.join(out, t + ".json")))
        cases = [c for s in g.get("testsuites", []) for c in s.get("testsuite", [])]
        entry["passed"] = [c["classname"] + "." + c["name"] for c in cases if c.get("result") == "COMPLETED" and not c.get("failures")]
        entry["skipped"] = [c["classname"] + "." + c["name"] for c in cases if c.get("result") == "SKIPPED"]
        entry["failed"] = [{"test": c["classname"] + "." + c["name"],
                            "messages": [f.get("failure", "")[:600] for f in c.get("failures", [])][:3]}
                           for c in cases if c.get("failures")]
    except (OSError, ValueError) as e:
        entry["gtest_json_error"] = str(e)
        entry["log_tail"] = tail(os.path.join(out, t + ".log"))
    # Lines the tests print for the record (NMSE seen, sampling mismatches).
    log = tail(os.path.join(out, t + ".log"), 200000) or ""
    notes = []
    for l in log.splitlines():
        if ("NMSE" in l or "differ from the CPU sampler" in l or l.startswith("no CUDA device")) and l not in notes:
            notes.append(l)
    if notes:
        entry["notes"] = notes[:40]
    if any(l.startswith("no CUDA device (") for l in notes):
        summary["gpu_tests_skipped_no_device"] = True
    if rc != 0 or entry.get("failed") or "gtest_json_error" in entry:
        all_ok = False
    summary["binaries"].append(entry)
try:
    summary["cyllm_info_devices"] = json.load(open(os.path.join(out, "devices.json")))
except (OSError, ValueError):
    summary["cyllm_info_devices"] = tail(os.path.join(out, "devices.err"))
if summary.get("gpu_tests_skipped_no_device"):
    all_ok = False  # nothing ran on a GPU: not a pass
summary["all_passed"] = all_ok
with open(os.path.join(final, "gpu-check.json"), "w") as f:
    json.dump(summary, f, indent=1)
# On stdout a compact version (the device tool returns only the last 12,000 characters).
for b in summary["binaries"]:
    for k in ("passed", "skipped"):
        if k in b:
            b[k] = len(b[k])
print(json.dumps(summary, indent=1)[-11000:])
sys.exit(0 if all_ok else (2 if status != "ok" or summary.get("gpu_tests_skipped_no_device") else 1))
EOF
