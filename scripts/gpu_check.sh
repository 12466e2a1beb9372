#!/usr/bin/env bash
# The GPU check of issue #30 in one run (a few minutes on one GPU): the tests marked `cuda`,
# then benchmarks/gpu.py (ops and models against PyTorch on the GPU, the ops table, lenet-modern
# throughput, time to 0.91 / 0.94 from process start). Everything it prints goes to $OUT/log,
# the figures to $OUT/gpu.json, the tests' report to $OUT/pytest.xml.
#
#   OUT=folder bash scripts/gpu_check.sh            on a machine with a CUDA GPU
#   DEVICE=cpu TINY=1 bash scripts/gpu_check.sh     the dry run of the same steps on a CPU
#
# PYTHON (default python3) runs it; src/ and vendor/ (pure-Python packages carried along, such as
# tomli_w) go on PYTHONPATH, so it runs from a copy of the repository without installing it.
# Fashion-MNIST is found where convlab looks ($CONVLAB_DATA/fashion-mnist, ~/.cache/convlab, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
DEVICE="${DEVICE:-cuda}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src:$PWD/vendor${PYTHONPATH:+:$PYTHONPATH}"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version())"
  if [ "$DEVICE" = cpu ]; then  # no GPU: only that the cuda tests are selected by -m cuda
    "$PY" -m pytest -m cuda tests/test_cuda.py -q -p no:cacheprovider --collect-only
  else
    timeout 90 "$PY" -m pytest -m cuda tests/test_cuda.py -q -p no:cacheprovider --junitxml="$OUT/pytest.xml"
    echo "pytest -m cuda: exit $?"
  fi
  timeout "${LIMIT:-420}" "$PY" benchmarks/gpu.py --device "$DEVICE" ${TINY:+--tiny} --json "$OUT/gpu.json"
  echo "benchmarks/gpu.py: exit $?"
  date -u
} 2>&1 | tee "$OUT/log"
