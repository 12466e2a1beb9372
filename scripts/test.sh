#!/usr/bin/env bash
# Set up (scripts/setup.sh), check (lint, format, types), and run the whole test suite. CI runs exactly this.
# Arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast tier.
# Then the ops and model-equivalence tests again with PyTorch's kernels held to AVX2
# (ATEN_CPU_CAPABILITY, and ONEDNN_MAX_CPU_ISA for oneDNN): the suite must pass on any x86-64 CPU
# with AVX2, and on an AVX-512 machine this runs the kernels an AMD EPYC or an older Intel CPU gets.
# (Fast tier, without PyTorch's OpInfo samples: those compare in float64, to 1e-10.)
# Tests run in TEST_WORKERS processes (pytest-xdist, default 2: one per core of a 2-core CI machine,
# one PyTorch thread each; tests/conftest.py), a test file to a worker (its module fixtures once).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check.sh
WORKERS=(-n "${TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder)  # (the order: tests/conftest.py)
.venv/bin/python -m pytest "${WORKERS[@]}" "$@"
echo "test.sh: the ops and model-equivalence tests with PyTorch held to AVX2"
ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python -m pytest "${WORKERS[@]}" "$@" -m "not slow" -k "not opinfo" \
  tests/test_ops.py tests/test_layers.py tests/test_models.py
