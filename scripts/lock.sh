#!/usr/bin/env bash
# `make lock`: write the lock files scripts/setup.sh installs each environment from, so that two
# hosts measure with the same library versions.
#
#   requirements/ft-X.Y.lock   .venv-ft:  core + api + engine + plain psycopg (requirements/ft.in), for the
#                              free-threaded CPython X.Y that setup provisions
#   requirements/gil-X.Y.lock  .venv-gil: core, for the default build of the same version
#   requirements/dev.lock      .venv:     the dev extra, one universal resolution for any
#                              python3 >= 3.11 (markers pick what differs between versions)
#
# The free-threaded lock is resolved first, against the free-threaded interpreter itself (only
# versions with a wheel or an sdist that builds there). The default build's lock is
# constrained by it, and the dev lock by the default build's (the core: Pillow, psutil), so
# the measured libraries are the same in all three environments. The rest of .venv cannot
# always follow the free-threaded pins (some of their dependencies need Python >= 3.12).
#
# Existing pins are kept unless UPGRADE=1 (everything) or UPGRADE_PACKAGE="pillow fastapi".
# Needs the interpreters: run scripts/setup.sh first (it works without the locks too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[lock] %s\n' "$*"; }
die() { printf '[lock] ERROR: %s\n' "$*" >&2; exit 1; }

UV=.venv/bin/uv
[ -x "$UV" ] || UV=$(command -v uv || true)
[ -n "$UV" ] || die "no uv: run scripts/setup.sh (the dev extra installs it into .venv)"
[ -x .venv-ft/bin/python ] || die "no .venv-ft: run scripts/setup.sh first"
[ -x .venv-gil/bin/python ] || die "no .venv-gil: run scripts/setup.sh first"

series() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
FT_SERIES=$(series .venv-ft/bin/python)
GIL_SERIES=$(series .venv-gil/bin/python)
[ "$FT_SERIES" = "$GIL_SERIES" ] \
  || die ".venv-ft is $FT_SERIES but .venv-gil is $GIL_SERIES: rebuild with scripts/setup.sh"
.venv-ft/bin/python -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_GIL_DISABLED"))' \
  || die ".venv-ft/bin/python is not a free-threaded build"

FT_LOCK=requirements/ft-$FT_SERIES.lock
GIL_LOCK=requirements/gil-$GIL_SERIES.lock
DEV_LOCK=requirements/dev.lock

# No index URL in the output (uv writes none unless asked); the header names `make lock`.
COMMON=(--quiet --custom-compile-command "make lock")
[ "${UPGRADE:-0}" = 1 ] && COMMON+=(--upgrade)
for package in ${UPGRADE_PACKAGE:-}; do COMMON+=(--upgrade-package "$package"); done

# pydantic-core needs Rust, scipy/numpy a Fortran toolchain: wheels only on the free-threaded side.
say "$FT_LOCK (free-threaded $FT_SERIES)"
"$UV" pip compile "${COMMON[@]}" --python .venv-ft/bin/python \
  --only-binary pydantic-core --only-binary scipy --only-binary numpy \
  pyproject.toml --extra api --extra engine requirements/ft.in -o "$FT_LOCK"

# Extensions that would break the free-threaded environment: cffi does not build there,
# hiredis re-enables the GIL on import.
if grep -qiE '^(cffi|hiredis)==' "$FT_LOCK"; then
  die "$FT_LOCK pulls in $(grep -ioE '^(cffi|hiredis)' "$FT_LOCK" | tr '\n' ' '): see its '# via' lines"
fi

say "$GIL_LOCK (default build $GIL_SERIES), constrained by $FT_LOCK"
"$UV" pip compile "${COMMON[@]}" --python .venv-gil/bin/python -c "$FT_LOCK" \
  pyproject.toml -o "$GIL_LOCK"

say "$DEV_LOCK (python >= 3.11, universal), core constrained by $GIL_LOCK"
"$UV" pip compile "${COMMON[@]}" --universal --python-version 3.11 -c "$GIL_LOCK" \
  pyproject.toml --extra dev -o "$DEV_LOCK"

# A lock names no package index (hosts differ; setup installs through pip's own settings).
if grep -nE -- '--(extra-)?index-url|--find-links|://' requirements/*.lock; then
  die "a lock file names an index or URL (above): remove it"
fi
pins() { grep -cE "^[A-Za-z0-9]" "$1"; }
say "done: $(pins "$FT_LOCK") + $(pins "$GIL_LOCK") + $(pins "$DEV_LOCK") pins; scripts/setup.sh installs them"
