#!/usr/bin/env bash
# Runs a gyrus built with the `cuda` feature (trainer/gpu/build.sh) on a GPU machine that has the
# NVIDIA driver and a CUDA 13 PyTorch but no CUDA toolkit on its library path: puts the CUDA
# libraries that ship with PyTorch's wheels (nvidia/cu13/lib: cublas, cublasLt, curand, nvrtc,
# cudart) on LD_LIBRARY_PATH, then runs gyrus with the given arguments, e.g.
#   trainer/gpu/run.sh bench device --device cuda
#   trainer/gpu/run.sh train --config run.toml --out runs/x --device cuda
# GYRUS_BIN overrides the binary (default: target/cuda/release/gyrus beside this checkout).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${GYRUS_BIN:-$here/../../target/cuda/release/gyrus}
[ -x "$bin" ] || { echo "no gyrus binary at $bin (build it with trainer/gpu/build.sh, or set GYRUS_BIN)" >&2; exit 1; }
libs=$(python3 - <<'PY' 2>/dev/null || true
import glob, os
try:
    import nvidia
    for root in list(nvidia.__path__):
        for d in glob.glob(os.path.join(root, "cu13", "lib")) + glob.glob(os.path.join(root, "*", "lib")):
            if glob.glob(os.path.join(d, "libcublas.so.13")):
                print(d)
                raise SystemExit
except ImportError:
    pass
PY
)
for d in $libs /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do
    [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH
missing=$(ldd "$bin" | grep "not found" || true)
if [ -n "$missing" ]; then
    echo "gyrus cannot find these libraries (is the NVIDIA driver installed, and a CUDA 13 PyTorch?):" >&2
    echo "$missing" >&2
    exit 1
fi
exec "$bin" "$@"
