#!/usr/bin/env bash
# Builds the prototype kernels next to this file, with the repository's .venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-$here/../../../.venv/bin/python}"
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
numpy="$("$python" -c 'import numpy; print(numpy.get_include())')"
suffix="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
gcc -O2 -march=native -Wall -shared -fPIC -I"$include" -I"$numpy" \
    "$here/fastchoice.c" -o "$here/fastchoice$suffix" -lm
