#!/usr/bin/env bash
# Set up everything nogilbench needs on this machine; idempotent and fast the second time.
#
#   .venv      stock python3 (>= 3.11), all extras (dev): CLI, store, API, report, tests
#   .venv-ft   free-threaded CPython (3.14t / 3.13t): core + api + postgres, checked with -X gil=0
#   .venv-gil  default (GIL) build of the same version: core only
#
# Each environment is installed from its lock file (requirements/dev.lock,
# requirements/ft-X.Y.lock, requirements/gil-X.Y.lock; `make lock` writes them), then the
# project itself with --no-deps, so two hosts measure with the same library versions. A
# free-threaded series with no lock (another host's 3.14t, say) is installed unlocked, with a
# warning.
#
# Environment:
#   NOGILBENCH_REQUIRE_FT=1   fail if no free-threaded interpreter can be had (CI sets it)
#   NOGILBENCH_FT_PYTHON      use this free-threaded interpreter as the base of .venv-ft
#   NOGILBENCH_GIL_PYTHON     use this default build as the base of .venv-gil
#   NOGILBENCH_CACHE          where interpreters are built (default ~/.cache/nogilbench)
#   PYTHON                    the stock interpreter for .venv (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

REQUIRE_FT="${NOGILBENCH_REQUIRE_FT:-0}"
STOCK_PYTHON="${PYTHON:-python3}"
PIP_QUIET=(--quiet --disable-pip-version-check)
START=$(date +%s)

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------- system packages
# Build dependencies of CPython and Pillow (Pillow may build from source on a free-threaded
# interpreter; without these headers it would silently lack WebP/TIFF/LCMS), libpq for psycopg,
# the PostgreSQL server the tests start, and the headless Chromium (with a font) that the
# browser tests drive (tests/browser: JupyterLab, the HTML report, Swagger UI), the Redis server
# the shared-limits and job-engine tests start, and wrk (an independent load client).
APT_PACKAGES=(
  build-essential pkg-config xz-utils
  libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev liblzma-dev
  libreadline-dev libncurses-dev uuid-dev libgdbm-dev
  libjpeg-dev libpng-dev libfreetype-dev libwebp-dev libtiff-dev liblcms2-dev
  libpq5
  chromium fonts-dejavu-core
  redis-server wrk
)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  APT_PACKAGES+=(postgresql)
fi

install_system_packages() {
  if ! command -v dpkg-query >/dev/null; then
    say "not a Debian-like system: make sure these are installed: ${APT_PACKAGES[*]}"
    return
  fi
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages: all present"
    return
  fi
  say "system packages: installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# --------------------------------------------------------------------------- helpers

# sha256 of the inputs that decide what a venv holds; a venv is rebuilt when it changes.
inputs_hash() { # base-python-path lock-file-or-empty extra-words...
  {
    "$1" -c 'import sys; print(sys.version)'
    printf '%s\n' "$@"
    cat pyproject.toml
    [ -z "$2" ] || cat "$2"
  } | sha256sum | cut -d' ' -f1
}

# pip, quiet; errors are shown. Drops the one-line notices about this machine's optional
# local package mirrors (not errors); pip's exit status is kept (pipefail).
pip_install() { # venv-dir pip-args...
  local dir=$1
  shift
  "$dir/bin/python" -m pip install "${PIP_QUIET[@]}" "$@" 2>&1 \
    | { grep -v "^WARNING: Location 'file:.*' is ignored" || true; }
}

# make_venv DIR BASE_PYTHON LOCK PIP_ARGS...: (re)create DIR when its stamp is stale. With a
# LOCK: its pins (PIP_ARGS are pip options for them), then the project alone (--no-deps,
# editable); with LOCK empty: PIP_ARGS as they are (the project and its extras, resolved now).
make_venv() {
  local dir=$1 base=$2 lock=$3
  shift 3
  local want stamp="$dir/.nogilbench-setup"
  want=$(inputs_hash "$base" "$lock" "$@")
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$dir/bin/python" -c 'import nogilbench' 2>/dev/null; then
    say "$dir: up to date ($("$dir/bin/python" -c 'import platform; print(platform.python_version())'))"
    return
  fi
  say "$dir: creating from $base${lock:+ ($lock)}"
  rm -rf "$dir"
  "$base" -m venv "$dir"
  pip_install "$dir" --upgrade pip
  if [ -n "$lock" ]; then
    pip_install "$dir" "$@" -r "$lock"
    pip_install "$dir" --no-deps -e .
  else
    pip_install "$dir" "$@"
  fi
  echo "$want" >"$stamp"
}

# The lock of a provisioned interpreter's series (requirements/KIND-X.Y.lock), or nothing with
# a warning: that environment is then resolved afresh, as `make lock` would for that series.
series_lock() { # kind version
  local lock="requirements/$1-${2%.*}.lock"
  if [ -f "$lock" ]; then
    echo "$lock"
  else
    say "WARNING: no $lock: .venv-$1 is installed unlocked (\`make lock\` writes one)" >&2
  fi
}

# The Pillow features every environment must have, so that no interpreter measures a
# different (smaller) Pillow.
check_pillow() { # python [flags...]
  "$@" - <<'EOF'
import sys
from PIL import features, Image
wanted = {"JPEG": "jpg", "PNG (zlib)": "zlib", "WebP": "webp", "TIFF (libtiff)": "libtiff",
          "FreeType text": "freetype2", "LCMS": "littlecms2"}
missing = [label for label, feature in wanted.items() if not features.check(feature)]
if missing:
    sys.exit(f"Pillow {Image.__version__} on {sys.executable} lacks: {', '.join(missing)}")
print(f"Pillow {Image.__version__}: " + ", ".join(wanted))
EOF
}

# --------------------------------------------------------------------------- main venv
install_system_packages

command -v "$STOCK_PYTHON" >/dev/null || die "$STOCK_PYTHON not found (need CPython >= 3.11)"
"$STOCK_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$STOCK_PYTHON is $("$STOCK_PYTHON" -V 2>&1); nogilbench needs >= 3.11"
STOCK_PYTHON=$("$STOCK_PYTHON" -c 'import sys; print(sys.executable)')

make_venv .venv "$STOCK_PYTHON" requirements/dev.lock

# The project's Jupyter kernel: .venv's interpreter, named for the project, installed inside
# .venv (share/jupyter/kernels/nogilbench) where JupyterLab, papermill and nbval run from .venv
# find it. The notebooks name it in their metadata.
KERNEL_JSON=.venv/share/jupyter/kernels/nogilbench/kernel.json
if ! grep -qF "\"$ROOT/.venv/bin/python\"" "$KERNEL_JSON" 2>/dev/null; then
  .venv/bin/python -m ipykernel install --sys-prefix --name nogilbench \
    --display-name "nogilbench (.venv)" >/dev/null
fi
say "Jupyter kernel 'nogilbench': $(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["argv"][0])' "$KERNEL_JSON")"

# JupyterLab's defaults in .venv (its app settings folder): no "fetch Jupyter news?" prompt and
# no update check, since these machines have no internet (nogilbench/notebook/lab-overrides.json).
# A user's own Lab settings still win.
LAB_OVERRIDES=.venv/share/jupyter/lab/settings/overrides.json
if ! cmp -s nogilbench/notebook/lab-overrides.json "$LAB_OVERRIDES"; then
  mkdir -p "$(dirname "$LAB_OVERRIDES")"
  cp nogilbench/notebook/lab-overrides.json "$LAB_OVERRIDES"
fi

# --------------------------------------------------------------------------- base interpreters
PROVISION_ARGS=(--shell)
[ "$REQUIRE_FT" = 1 ] && PROVISION_ARGS+=(--require-ft)
if ! PROVISIONED=$("$STOCK_PYTHON" -m nogilbench.host.provision "${PROVISION_ARGS[@]}"); then
  die "no free-threaded interpreter could be provisioned and NOGILBENCH_REQUIRE_FT=1"
fi
FT_PYTHON="" FT_VERSION="" FT_REASON="" GIL_PYTHON=""
eval "$PROVISIONED"

# --------------------------------------------------------------------------- free-threaded venv
if [ -n "$FT_PYTHON" ]; then
  # pydantic-core needs Rust, scipy/numpy a Fortran toolchain: wheels only (the lock pins
  # versions that have free-threaded ones). Unlocked, requirements/ft.in adds plain psycopg
  # (psycopg[binary] has no free-threaded wheels) and the pydantic bound.
  FT_PIP=(--only-binary=pydantic-core,scipy,numpy)
  FT_LOCK=$(series_lock ft "$FT_VERSION")
  [ -n "$FT_LOCK" ] || FT_PIP+=(-e '.[api,engine]' -r requirements/ft.in)
  make_venv .venv-ft "$FT_PYTHON" "$FT_LOCK" "${FT_PIP[@]}"
  # Everything the free-threaded side imports must keep the GIL off.
  .venv-ft/bin/python -X gil=0 -c '
import PIL.Image, psutil, fastapi, sqlmodel, jwt, passlib, bcrypt, psycopg, pydantic, limits
import celery, kombu, redis  # the job engine: its thread pool runs here with the GIL off
import scipy.stats
import fastapi_offline  # the offline Swagger UI assets of /docs
import sys
assert not sys._is_gil_enabled(), "an extension re-enabled the GIL"
print(f"[setup] .venv-ft: imports OK with the GIL off ({sys.version.split()[0]}, "
      f"psycopg {psycopg.__version__} via {psycopg.pq.__impl__} libpq)")
' || die ".venv-ft: the free-threaded environment is broken (see above)"
else
  say "WARNING: no free-threaded interpreter: ${FT_REASON}"
  say "WARNING: free-threaded rows will be reported as unavailable; see environment.md"
  rm -rf .venv-ft
fi

# --------------------------------------------------------------------------- default-build venv
if [ -n "$GIL_PYTHON" ]; then
  GIL_VERSION=$("$GIL_PYTHON" -c 'import platform; print(platform.python_version())')
  GIL_LOCK=$(series_lock gil "$GIL_VERSION")
  if [ -n "$GIL_LOCK" ]; then
    make_venv .venv-gil "$GIL_PYTHON" "$GIL_LOCK"
  else
    make_venv .venv-gil "$GIL_PYTHON" "" -e .
  fi
else
  say "no default (GIL) build of the free-threaded version; skipping .venv-gil"
fi

# --------------------------------------------------------------------------- same Pillow everywhere
say "checking Pillow formats in every environment"
check_pillow .venv/bin/python | sed 's/^/[setup]   .venv: /'
if [ -d .venv-ft ]; then
  check_pillow .venv-ft/bin/python -X gil=0 | sed 's/^/[setup]   .venv-ft: /'
fi
if [ -d .venv-gil ]; then
  check_pillow .venv-gil/bin/python | sed 's/^/[setup]   .venv-gil: /'
fi

# --------------------------------------------------------------------------- sub-interpreters
# The subinterpreters method (3.13: backports.interpreters, 3.14+: the stdlib): the pure-Python
# kernel must run in a sub-interpreter of each benchmark environment, as it does in a cell.
check_subinterpreters() { # python [flags...]
  "$@" - <<'EOF'
import sys
if sys.version_info < (3, 13):
    print(f"skipped on {sys.version.split()[0]} (needs 3.13+)")
    raise SystemExit(0)
from nogilbench.imaging.kernels import convolve_digest
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.staged import Staged
item = (bytes(range(256)) * 4, 32, 32, 1)
runner = make_runner("subinterpreters", 1)
with runner:
    got = runner.map(Staged(tuple, convolve_digest), [item])
assert got == [convolve_digest(*item)], got
print(f"pure-Python kernel runs in a sub-interpreter ({runner.details['interpreter_api']})")
EOF
}
if [ -d .venv-ft ]; then
  check_subinterpreters .venv-ft/bin/python -X gil=0 | sed 's/^/[setup]   .venv-ft: /'
fi
if [ -d .venv-gil ]; then
  check_subinterpreters .venv-gil/bin/python | sed 's/^/[setup]   .venv-gil: /'
fi

say "done in $(($(date +%s) - START)) s"
