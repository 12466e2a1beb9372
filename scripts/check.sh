#!/usr/bin/env bash
# Lint, format check and type check: what CI runs before the tests (and pre-commit runs locally).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
