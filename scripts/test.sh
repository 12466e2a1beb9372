#!/usr/bin/env bash
# Set up (scripts/setup.sh), check (lint, format, types), and run the whole test suite. CI runs exactly this.
# Arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check.sh
.venv/bin/python -m pytest "$@"
