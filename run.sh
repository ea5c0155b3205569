#!/usr/bin/env bash
# The project's commands. The two that matter:
#   ./run.sh demo   the main job
#   ./run.sh test   build everything and run the whole test suite through ctest
# Each installs what is missing (Debian packages, as root or with sudo), configures, builds
# incrementally and runs. Also: ./run.sh build | bench | fuzz [SECONDS] | help.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${I2V_BUILD_DIR:-build}
JOBS=$(nproc)
# OpenMP threads that spin while waiting at a barrier lose their time slices to any other busy
# process, and a training step then runs 4-80x slower (measured on a shared 2-core machine);
# sleeping waits cost 3-7% on an idle one. The demo sleeps (tests/CMakeLists.txt sets the same
# for the tests); the benchmarks keep the default (spinning).
PASSIVE_WAIT=${OMP_WAIT_POLICY:-passive}

# Debian 12 packages the build needs (the CUDA toolkit is optional: /usr/local/cuda when present);
# clang with libFuzzer and its OpenMP builds the fuzz targets (fuzz/); OpenMPI starts and connects
# the processes of a distributed training run (mpirun -np R i2v train; its tests run 2 ranks);
# pybind11 binds the Python module (python/); cpp-httplib serves HTTP (i2v serve; its pkg-config
# flags need the OpenSSL and Brotli headers).
PACKAGES=(
  cmake ninja-build g++ pkg-config
  libfmt-dev nlohmann-json3-dev libcli11-dev libeigen3-dev libboost-context-dev
  libturbojpeg0-dev libstb-dev libwebp-dev libsvm-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev libomp-dev
  openmpi-bin libopenmpi-dev
  python3-dev pybind11-dev
  libcpp-httplib-dev libssl-dev libbrotli-dev
)
# What the tests' cross-checks run (PyTorch, numpy, protobuf's encoder for the Caffe importer's
# fixtures, the ONNX checker, PIL for the WD taggers' preprocessing, the browser that tests i2v
# serve's page): a test that needs one fails without it (tests/test_policy_test.cpp).
TEST_PACKAGES=(python3 python3-numpy python3-torch python3-protobuf python3-onnx python3-pil chromium)
# From the npm registry into the build folder (one install, so that neither removes the other):
# ONNX Runtime for the ONNX export tests, whose install script would fetch the CUDA provider from
# nuget.org (skipped: the CPU runtime is in the package); Playwright's browser driver for the test
# of i2v serve's page in Debian's chromium (it downloads no browser of its own).
NPM_TEST_PACKAGES=(onnxruntime-node@1.30.0 playwright-core@1.65.2)

install_npm_test_packages() {
  command -v npm >/dev/null || install_missing_packages npm
  local prefix="$BUILD_DIR/npm" package missing=0
  for package in "${NPM_TEST_PACKAGES[@]}"; do
    grep -qs "\"version\": \"${package##*@}\"" "$prefix/node_modules/${package%@*}/package.json" || missing=1
  done
  [ "$missing" = 0 ] && return 0
  echo "run.sh: installing ${NPM_TEST_PACKAGES[*]} into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error "${NPM_TEST_PACKAGES[@]}"
}

usage() {
  cat <<'TXT'
usage: ./run.sh COMMAND

  demo    build the i2v tool, then run the tagging demo (scripts/demo.sh; results in demo-out/)
  test    build everything, then run the whole test suite through ctest (also the sanitizer
          build of the tests and a short run of each fuzz target)
  fuzz [SECONDS]
          build the fuzz targets (fuzz/), run each for SECONDS (default 60) from its seed corpus;
          prints executions and findings per target (findings in <build>/asan/fuzz/findings/)
  build   install what is missing, configure and build (incremental); afterwards
          python3 -c "import i2v" finds the Python module (<build>/python)
  bench   build, then run the emulator benchmark and the training step beside PyTorch
          (more in bench/; results: bench/RESULTS.md)
  help    this text

Environment: I2V_BUILD_DIR (default: build).
TXT
}

install_missing_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "run.sh: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build [TARGET...]: everything by default.
build() {
  install_missing_packages "${PACKAGES[@]}"
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  local targets=()
  (($# > 0)) && targets=(--target "$@")
  cmake --build "$BUILD_DIR" -j"$JOBS" "${targets[@]}"
  (($# == 0)) && link_python_module
  return 0
}

# `import i2v` for Debian's python3 without pip: an i2v.pth in the user's site-packages names the
# folder the module is built into (<build>/python).
link_python_module() {
  [ -d "$BUILD_DIR/python" ] || return 0
  local site
  site=$(/usr/bin/python3 -m site --user-site)
  mkdir -p "$site"
  (cd "$BUILD_DIR/python" && pwd) > "$site/i2v.pth"
}

case "${1:-help}" in
  demo)
    # The demo fetches emoji drawings from the npm registry (npm may also come with nodejs).
    command -v npm >/dev/null || install_missing_packages npm
    build i2v_tool
    OMP_WAIT_POLICY=$PASSIVE_WAIT scripts/demo.sh "$BUILD_DIR/apps/i2v"
    ;;
  test)
    install_missing_packages "${TEST_PACKAGES[@]}"
    build
    install_npm_test_packages
    ctest --test-dir "$BUILD_DIR" -j"$JOBS" --output-on-failure
    ;;
  fuzz)
    seconds=${2:-60}
    [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: fuzz SECONDS: a positive number of seconds, not '$seconds'" >&2; exit 2; }
    build asan_build
    fuzz/run_fuzz_targets.sh "$BUILD_DIR/asan/fuzz" "$seconds"
    ;;
  build)
    build
    ;;
  bench)
    build
    "$BUILD_DIR/bench/sim_bench"
    echo
    # One i2v-tag training step beside PyTorch on the same cores (about 2 minutes; i2v alone
    # when Debian's python3-torch is absent).
    if [ -x /usr/bin/python3 ]; then
      /usr/bin/python3 bench/train_step_vs_torch.py --bench "$BUILD_DIR/bench/train_step_bench"
    else
      echo "run.sh: /usr/bin/python3 is missing: the training-step comparison is skipped" >&2
    fi
    ;;
  help|-h|--help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
