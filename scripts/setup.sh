#!/usr/bin/env bash
# Set up convlab on a fresh Debian/Ubuntu machine: system packages (as root), a virtual
# environment in .venv, PyTorch (CPU build) and convlab with every extra.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES="dataset-fashion-mnist chromium fonts-noto-cjk"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $DEB_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
else
  echo "setup: not root or no apt-get; skipping Debian packages ($DEB_PACKAGES)." \
       "Fashion-MNIST will be downloaded on first use; browser tests skip without chromium."
fi

# OpenCV's handwritten digits: only digits.png out of Debian's opencv-doc (a 96 MB package that
# installs 270 MB), into convlab's data cache, unless the package itself is installed.
DIGITS_DIR="${CONVLAB_DATA:-$HOME/.cache/convlab}/digits"
DIGITS_IN_DEB=./usr/share/doc/opencv-doc/examples/data/digits.png
if [ ! -f "$DIGITS_DIR/digits.png" ] && [ ! -f "${DIGITS_IN_DEB#.}" ] && command -v apt-get >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 \
        && dpkg-deb --fsys-tarfile opencv-doc_*.deb | tar -x "$DIGITS_IN_DEB"); then
    mkdir -p "$DIGITS_DIR"
    cp "$tmp/$DIGITS_IN_DEB" "$DIGITS_DIR/.digits.png.part" && mv "$DIGITS_DIR/.digits.png.part" "$DIGITS_DIR/digits.png"
    echo "setup: digits.png taken from opencv-doc into $DIGITS_DIR"
  else
    echo "setup: could not take digits.png out of opencv-doc; the digits dataset will be downloaded on first use"
  fi
  rm -rf "$tmp"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# The CPU build of PyTorch (a plain 'torch' may pull a multi-GB CUDA build).
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[web,export,test,dev]"
echo "setup: ready ($(.venv/bin/python -c 'import torch, convlab; print("convlab", convlab.__version__, "torch", torch.__version__)'))"
