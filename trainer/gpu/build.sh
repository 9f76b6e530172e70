#!/usr/bin/env bash
# Builds `gyrus` with the `cuda` feature on an x86-64 Linux machine that has no GPU and no CUDA
# toolkit (a GPU machine with nvcc and the libraries on its paths can simply run
# `cargo build --release -p gyrus-trainer --features cuda`).
#
# candle-core's `cuda` feature needs nvcc at build time (candle-kernels compiles its kernels to PTX)
# and links against libcuda, libnvrtc, libcurand, libcublas, libcublasLt and libcudart (cudarc's
# `dynamic-linking`). This script:
#   1. installs NVIDIA's CUDA 13 compiler and libraries from PyPI into $GYRUS_CUDA_HOME (pinned to
#      one version: nvcc, nvvm and crt must agree, and the PTX they emit must not be newer than the
#      GPU machine's driver accepts: driver 580 runs CUDA 13.0);
#   2. adds the unversioned library names the linker asks for, and a stub libcuda.so (the driver
#      library ships with the driver only) whose soname is libcuda.so.1, so that the binary binds
#      to the real driver on the GPU machine;
#   3. builds target/cuda/release/gyrus with CUDA_COMPUTE_CAP (default 90: H100/H200).
# Run the result on the GPU machine with trainer/gpu/run.sh (it finds the CUDA libraries that ship
# with PyTorch there).
set -euo pipefail
cd "$(dirname "$0")/../.."

CUDA_PIN=${CUDA_PIN:-13.0.88}
CUBLAS_PIN=${CUBLAS_PIN:-13.0.2.14}
CURAND_PIN=${CURAND_PIN:-10.4.0.35}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
TOOLS=${GYRUS_CUDA_HOME:-$HOME/.cache/gyrus/cuda-$CUDA_PIN}
CU=$TOOLS/nvidia/cu13

CCCL_PIN=${CCCL_PIN:-13.0.85}
pkgs="nvidia-cuda-nvcc==$CUDA_PIN nvidia-nvvm==$CUDA_PIN nvidia-cuda-crt==$CUDA_PIN \
nvidia-cuda-runtime==$CUDA_PIN nvidia-cuda-nvrtc==$CUDA_PIN nvidia-cuda-cccl==$CCCL_PIN \
nvidia-cublas==$CUBLAS_PIN nvidia-curand==$CURAND_PIN"
if [ "$(cat "$TOOLS/.installed" 2>/dev/null)" != "$pkgs" ]; then
    echo "== installing the CUDA $CUDA_PIN compiler and libraries into $TOOLS (PyPI, ~1 GB)"
    # shellcheck disable=SC2086
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade --target "$TOOLS" $pkgs
    echo "$pkgs" >"$TOOLS/.installed"
fi

echo "== link names and the driver stub in $CU/lib"
for lib in cudart nvrtc cublas cublasLt curand; do
    so=$(cd "$CU/lib" && ls "lib$lib.so."* 2>/dev/null | sort | head -n 1 || true)
    [ -n "$so" ] || { echo "lib$lib.so.* missing under $CU/lib" >&2; exit 1; }
    ln -sf "$so" "$CU/lib/lib$lib.so"
done
mkdir -p "$CU/lib/stubs"
if ! grep -q "return 100" "$CU/lib/stubs/libcuda.c" 2>/dev/null; then
    # Every driver entry point cudarc declares, as a function that answers
    # CUDA_ERROR_NO_DEVICE (100): only the names matter for linking, and at run time the dynamic
    # loader binds them to the real libcuda.so.1. (Put on the library path of a machine without a
    # driver, the stub makes `--device cuda` report that no GPU was found.)
    cargo fetch --quiet
    sys=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.*/src/driver/sys | head -n 1)
    grep -ho '\bfn cu[A-Za-z0-9_]*(' "$sys"/*.rs | sed 's/^fn //; s/($//' | sort -u |
        sed 's/.*/int &(void) { return 100; }/' >"$CU/lib/stubs/libcuda.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CU/lib/stubs/libcuda.so" "$CU/lib/stubs/libcuda.c"
fi

echo "== building gyrus with --features cuda (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP; the kernels take ~10 min on 2 cores)"
export PATH=$CU/bin:$PATH CUDA_HOME=$CU
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda} \
    cargo build --release -p gyrus-trainer --features cuda --bin gyrus
bin=${CARGO_TARGET_DIR:-target/cuda}/release/gyrus
# Without debug information (the release profile keeps it): small enough to copy to a GPU machine.
objcopy --strip-debug "$bin" "$bin-stripped"
mv "$bin-stripped" "$bin"
echo "== built $bin ($(du -h "$bin" | cut -f1)); it needs these libraries at run time:"
readelf -d "$bin" | grep NEEDED
