#!/usr/bin/env bash
# GPU check: installs onnxruntime-node's CUDA execution provider from what was fetched beforehand, then runs the
# default-settings bench on the GPU (DEVICE=cuda) and prints the provider, the chosen batch, bare vs end-to-end
# images/s and the GPU memory used.
#
#   scripts/gpu-check.sh fetch    # on a machine with the npm registry: packs what the GPU machine needs into
#                                 # .gpu-cache/ (git-ignored; about 180 MB); copy the project with it
#   scripts/gpu-check.sh          # on the GPU machine, no network needed: install from .gpu-cache/, check, bench
#   scripts/gpu-check.sh restore  # put the project's own onnxruntime-node back
#
# Why the version pairing: onnxruntime-node 1.30 (the project's) loads its CUDA provider from NuGet at install time,
# which these machines cannot reach. The npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 carries the
# CUDA 13 provider libraries built for ONNX Runtime 1.29, and a provider only loads into the runtime version it was
# built for, so the check swaps in onnxruntime-node 1.29.0 (same API for everything the project uses) and copies
# libonnxruntime_providers_{shared,cuda}.so beside its binding. The provider also needs (readelf) libcudart.so.13,
# libcublas.so.13, libcublasLt.so.13, libcurand.so.10, the driver's libcuda.so.1, and cuDNN 9 (libcudnn.so.9, opened
# at run time), which no npm package brings: they must be installed on the GPU machine (driver, CUDA 13 toolkit and
# cuDNN, or the nvidia-* pip wheels); the check lists every one that is missing and stops.
#
# Environment: BENCH_SECTIONS (default vit,convnext), BENCH_VIT_POSTS, BENCH_CONVNEXT_POSTS (defaults 400 and 1000 on
# a GPU), BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres; without PostgreSQL the runs use
# the embedded database).
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=.gpu-cache
ORT_VERSION=1.29.0
PROVIDER_PACKAGE=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
BINDING=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
BACKUP="$CACHE/project-onnxruntime"

say() { printf '[gpu-check] %s\n' "$*" >&2; }
die() {
  printf '[gpu-check] FAILED: %s\n' "$*" >&2
  exit 1
}

restore() {
  if [ -d "$BACKUP/onnxruntime-node" ]; then
    rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common
    cp -a "$BACKUP/onnxruntime-node" "$BACKUP/onnxruntime-common" node_modules/
    say "project onnxruntime-node $(node -p "require('onnxruntime-node/package.json').version") restored"
  fi
}

case "${1:-check}" in
fetch)
  mkdir -p "$CACHE"
  say "packing onnxruntime-node@$ORT_VERSION, onnxruntime-common@$ORT_VERSION and $PROVIDER_PACKAGE into $CACHE/"
  (cd "$CACHE" && npm pack --silent "onnxruntime-node@$ORT_VERSION" "onnxruntime-common@$ORT_VERSION" "$PROVIDER_PACKAGE")
  ls -l "$CACHE"/*.tgz >&2
  exit 0
  ;;
restore)
  restore
  exit 0
  ;;
check) ;;
*) die "unknown command $1 (fetch, check or restore)" ;;
esac

# 1. The machine: an NVIDIA GPU and its driver.
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver on this machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 ||
  die "nvidia-smi cannot talk to the driver"
say "driver's CUDA version: $(nvidia-smi | sed -n 's/.*CUDA Version: \([0-9.]*\).*/\1/p' | head -1)"

# 2. What `fetch` packed.
shopt -s nullglob
ort_tgz=("$CACHE"/onnxruntime-node-"$ORT_VERSION".tgz)
common_tgz=("$CACHE"/onnxruntime-common-"$ORT_VERSION".tgz)
provider_tgz=("$CACHE"/com.github.asus4.onnxruntime.linux-x64-gpu-*.tgz)
missing_tgz=()
[ ${#ort_tgz[@]} -eq 1 ] || missing_tgz+=("onnxruntime-node-$ORT_VERSION.tgz")
[ ${#common_tgz[@]} -eq 1 ] || missing_tgz+=("onnxruntime-common-$ORT_VERSION.tgz")
[ ${#provider_tgz[@]} -eq 1 ] || missing_tgz+=("$PROVIDER_PACKAGE (.tgz)")
if [ ${#missing_tgz[@]} -gt 0 ]; then
  die "missing in $CACHE/: ${missing_tgz[*]}. Run 'scripts/gpu-check.sh fetch' where npm's registry is reachable and copy $CACHE/ here."
fi

# 3. Swap in onnxruntime-node 1.29 (the project's own copy is kept in $BACKUP and put back by 'restore').
if [ ! -d "$BACKUP/onnxruntime-node" ]; then
  mkdir -p "$BACKUP"
  cp -a node_modules/onnxruntime-node node_modules/onnxruntime-common "$BACKUP/"
fi
work="$CACHE/unpacked"
rm -rf "$work" && mkdir -p "$work/node" "$work/common" "$work/provider"
tar -xzf "${ort_tgz[0]}" -C "$work/node"
tar -xzf "${common_tgz[0]}" -C "$work/common"
tar -xzf "${provider_tgz[0]}" -C "$work/provider"
rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common
cp -a "$work/node/package" node_modules/onnxruntime-node
cp -a "$work/common/package" node_modules/onnxruntime-common
shared_so=$(find "$work/provider" -name 'libonnxruntime_providers_shared.so' | head -1)
cuda_so=$(find "$work/provider" -name 'libonnxruntime_providers_cuda.so' | head -1)
[ -n "$shared_so" ] && [ -n "$cuda_so" ] || die "$PROVIDER_PACKAGE holds no libonnxruntime_providers_{shared,cuda}.so"
cp "$shared_so" "$cuda_so" "$BINDING/"
say "onnxruntime-node $ORT_VERSION with the CUDA provider from $PROVIDER_PACKAGE installed in $BINDING"

# 4. The CUDA libraries the provider links to: find them where CUDA toolkits and nvidia-* wheels put them.
for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-*/lib64 /usr/local/cuda-*/lib \
  /usr/lib/x86_64-linux-gnu \
  $(python3 -c 'import site,glob;print(" ".join(p for s in site.getsitepackages() for p in glob.glob(s+"/nvidia/*/lib")))' 2>/dev/null || true); do
  if [ -d "$dir" ]; then LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir"; fi
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
missing_libs=$(ldd "$BINDING/libonnxruntime_providers_cuda.so" | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
# cuDNN is opened at run time (convolutions), so ldd does not list it: look for it on the path and in ld's cache.
cudnn_found=$(
  IFS=:
  for dir in $LD_LIBRARY_PATH; do ls "$dir"/libcudnn.so.9* 2>/dev/null; done
  ldconfig -p 2>/dev/null | grep -o '/[^ ]*libcudnn\.so\.9[^ ]*' || true
)
[ -n "$cudnn_found" ] || missing_libs="$missing_libs libcudnn.so.9"
if [ -n "${missing_libs// /}" ]; then
  restore
  die "the CUDA provider cannot load; missing shared libraries: $missing_libs
  (the provider links libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10 and the driver's
  libcuda.so.1, and opens cuDNN 9's libcudnn.so.9 at run time). They come with the NVIDIA driver, the CUDA 13 toolkit
  and cuDNN 9 for CUDA 13, or the pip wheels nvidia-cuda-runtime, nvidia-cublas, nvidia-curand and nvidia-cudnn-cu13;
  install them on this machine (this script downloads nothing) and run it again."
fi
say "every library the CUDA provider needs was found"

# 5. A CUDA session must start, and DEVICE=auto must pick it.
probe="$CACHE/probe-cuda.ts"
cat >"$probe" <<'PROBE'
import { createLogger } from '../src/shared/logger.js';
import { OnnxTagger } from '../src/tagger/onnx-tagger.js';

for (const device of ['cuda', 'auto'] as const) {
  const tagger = await OnnxTagger.load('models/test-colors', { device, logger: createLogger({ level: 'warn' }) });
  console.error(`[gpu-check] DEVICE=${device} runs on ${tagger.provider}`);
  await tagger.close();
  if (tagger.provider !== 'cuda') process.exit(1);
}
PROBE
npx tsx "$probe" || {
  restore
  die "onnxruntime could not start a CUDA session, or DEVICE=auto did not pick it (see the error above)"
}

# 6. The bench on the GPU, with the GPU's memory sampled meanwhile.
smi_log="$CACHE/nvidia-smi.csv"
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader,nounits -lms 500 >"$smi_log" &
smi_pid=$!
trap 'kill $smi_pid 2>/dev/null || true' EXIT
out="$CACHE/bench-cuda.json"
BENCH_DEVICE=cuda DEVICE=cuda BENCH_SECTIONS="${BENCH_SECTIONS:-vit,convnext}" \
  BENCH_VIT_POSTS="${BENCH_VIT_POSTS:-400}" BENCH_CONVNEXT_POSTS="${BENCH_CONVNEXT_POSTS:-1000}" \
  npx tsx scripts/bench.ts >"$out"
kill $smi_pid 2>/dev/null || true

node -e "
  const r = JSON.parse(require('fs').readFileSync('$out', 'utf8'));
  const smi = require('fs').readFileSync('$smi_log', 'utf8').trim().split('\n').map((l) => l.split(',').map((v) => v.trim()));
  const peakMiB = Math.max(0, ...smi.map((f) => Number(f[1]) || 0));
  const peakUtil = Math.max(0, ...smi.map((f) => Number(f[2]) || 0));
  for (const [name, d] of Object.entries(r.defaultSettings ?? {})) {
    if (!d) continue;
    console.log([
      name + ':',
      'provider ' + (d.run?.inference ? 'cuda (DEVICE=cuda)' : '?'),
      'batch ' + d.run?.inference?.batch + ' (' + d.run?.inference?.batchChoice + ')',
      'bare ' + d.bare.imagesPerSecond + ' img/s',
      'end to end steady ' + d.run?.steadyPostsPerSecond + ' posts/s (' + d.ratios.steady + ')',
      'whole run ' + d.run?.wholeRunPostsPerSecond + ' (' + d.ratios.wholeRun + ')',
      'ms/image ' + JSON.stringify(d.run?.msPerImage),
    ].join('\n  '));
  }
  console.log('GPU memory used at peak: ' + peakMiB + ' MiB; peak utilisation ' + peakUtil + '%');
  console.log('full JSON: $out');
"
restore
