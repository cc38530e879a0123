#!/usr/bin/env bash
# Builds a free-threaded CPython 3.13 ("3.13t", configure --disable-gil) into a private prefix
# so pycnode can be built against it (meson -Dpython_embed=python-3.13t-embed).
#
#   scripts/build-cpython-ft.sh [PREFIX]      (or FT_PREFIX=... scripts/build-cpython-ft.sh)
#
# Default prefix: <repo>/build-deps/cpython-3.13t. Idempotent: when the prefix already holds a
# working free-threaded build it says so and exits 0 at once.
#
# Debian 12 ships no CPython 3.13, and only Debian's archive is reachable from our machines, so
# the sources come from Debian 13 ("trixie"): `apt-get source python3.13` through a private apt
# configuration (its own sources list, lists, cache and an empty dpkg status) that leaves the
# machine's apt sources, lists and cache untouched. The mirror is the one the machine's own apt
# configuration already uses; FT_DEBIAN_MIRROR overrides it.
#
# Environment knobs:
#   FT_PREFIX            install prefix (the first argument wins over it)
#   FT_WORK_DIR          where the private apt tree, the sources, the build tree and the log go
#                        (default <repo>/build-deps)
#   FT_DEBIAN_MIRROR     Debian archive URI to use instead of the one found in /etc/apt
#   FT_CHECK_FRAMEWORKS  1 (default) prints which web frameworks from Debian's python3-* packages
#                        import in the new interpreter; 0 skips that report
set -euo pipefail

# A clean PATH: this machine has pyenv shims (python3, python3.13) ahead of /usr/bin, and
# CPython's configure would pick such a python3.13 as PYTHON_FOR_REGEN. Everything this script
# runs (gcc, make, pkg-config, apt-get, dpkg-source) lives in the system directories.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work_dir=$(realpath -m "${FT_WORK_DIR:-$repo_root/build-deps}")
prefix=$(realpath -m "${1:-${FT_PREFIX:-$work_dir/cpython-3.13t}}")
readonly repo_root work_dir prefix
readonly apt_dir=$work_dir/apt-trixie           # private apt state: sources.list, lists, cache
readonly src_root=$work_dir/src                 # downloaded .dsc/.orig and the extracted tree
readonly build_dir=$work_dir/cpython-3.13t-build  # out-of-tree build: the sources stay pristine
readonly log=$work_dir/cpython-3.13t-build.log

readonly suite=trixie
readonly src_package=python3.13
readonly python_bin=$prefix/bin/python3.13t
readonly embed_pc=python-3.13t-embed
readonly archive_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# Debian 12 packages needed to build the interpreter and the stdlib modules we rely on:
# _ssl/_hashlib (asyncio's TLS), _ctypes, _sqlite3, zlib, _bz2, _lzma, _uuid, readline/_curses
# for a usable REPL. _decimal and pyexpat are built from the copies bundled in the sources.
readonly build_packages=(
  build-essential pkg-config dpkg-dev
  libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev
  uuid-dev libreadline-dev libncurses-dev
)

current_step="start"

# Messages go to fd 8, a copy of the original stderr, so that they reach the terminal even when
# raised from inside a command whose output is being sent to the log.
exec 8>&2
say() { echo "build-cpython-ft: $*" >&8; }

step() {
  current_step=$1
  say "$1"
}

readonly main_pid=$BASHPID

# EXIT trap: on failure, name the step and show the end of the log (once, from the main shell).
on_exit() {
  local rc=$?
  ((rc != 0)) && [[ $BASHPID == "$main_pid" ]] || return 0
  say "FAILED during: $current_step (exit $rc)"
  if [[ -s $log ]]; then
    say "last lines of the log:"
    tail -n 25 "$log" | sed 's/^/    /' >&8
    say "full log: $log"
  fi
}

# Runs a command with its output going to the log only.
quietly() {
  "$@" >>"$log" 2>&1
}

# A working build: the interpreter runs with the GIL off and the embed .pc file is installed.
# -I keeps PYTHON_GIL / PYTHONPATH from the caller's environment out of the check.
have_working_build() {
  [[ -x $python_bin ]] &&
    [[ -f $prefix/lib/pkgconfig/$embed_pc.pc ]] &&
    "$python_bin" -I -c 'import sys; assert not sys._is_gil_enabled()' >/dev/null 2>&1
}

ensure_packages() {
  local missing=() p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  quietly $sudo apt-get update -q
  quietly $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Prints the Debian archive URI the machine's apt already uses for its own release (the stanza
# or line whose suite is exactly the release codename, so -security and -updates are passed
# over). Reads deb822 *.sources files and one-line *.list files the way apt does.
find_debian_mirror() {
  if [[ -n ${FT_DEBIAN_MIRROR:-} ]]; then
    echo "${FT_DEBIAN_MIRROR%/}"
    return
  fi
  local codename
  # shellcheck disable=SC1091 # the machine's file, read at run time
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [[ -n $codename ]] || { say "cannot read VERSION_CODENAME from /etc/os-release"; return 1; }

  local uri=""
  local files=()
  shopt -s nullglob
  files=(/etc/apt/sources.list.d/*.sources)
  if ((${#files[@]})); then
    uri=$(awk -v want="$codename" '
      function flush() {
        if (enabled && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uris != "" && found == "") {
          split(uris, u, " "); found = u[1]
        }
        types = ""; uris = ""; suites = ""; enabled = 1
      }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key)
        val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "enabled") enabled = (tolower(val) != "no")
      }
      END { flush(); print found }' "${files[@]}")
  fi
  if [[ -z $uri ]]; then
    files=()
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    files+=(/etc/apt/sources.list.d/*.list)
    if ((${#files[@]})); then
      # deb [options] URI SUITE COMPONENTS...
      uri=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "${files[@]}" |
        awk -v want="$codename" '$1 == "deb" && $3 == want { print $2; exit }')
    fi
  fi
  shopt -u nullglob
  [[ -n $uri ]] || { say "no Debian mirror for '$codename' found in /etc/apt (set FT_DEBIAN_MIRROR)"; return 1; }
  echo "${uri%/}"
}

# apt-get with every piece of state pointed into $apt_dir: the machine's sources.list(.d),
# preferences, package lists, archive cache and dpkg status are neither read nor written.
# (apt.conf.d is still read on purpose: a proxy configured for the machine applies here too.)
apt_private() {
  apt-get \
    -o Dir::Etc::sourcelist="$apt_dir/sources.list" \
    -o Dir::Etc::sourceparts=- \
    -o Dir::Etc::preferences="$apt_dir/preferences" \
    -o Dir::Etc::preferencesparts=- \
    -o Dir::State="$apt_dir/state" \
    -o Dir::State::Lists="$apt_dir/lists" \
    -o Dir::State::status="$apt_dir/status" \
    -o Dir::Cache="$apt_dir/cache" \
    -o Dir::Cache::archives="$apt_dir/cache/archives" \
    -o APT::Get::List-Cleanup=0 \
    -o Acquire::Languages=none \
    "$@"
}

# Downloads python3.13's Debian source package from trixie and unpacks it without Debian's
# patches (--skip-patches): those adapt the layout to a /usr system install (dist-packages,
# multiarch paths, a disabled ensurepip); we want upstream's behaviour under our own prefix.
#
# Trust chain: trixie's InRelease is checked by apt against debian-archive-keyring (bookworm's
# keyring carries the trixie archive keys; no [trusted=yes]); the .dsc, .orig and .debian files
# are checked by apt against the SHA256 sums of the signed Sources index, and dpkg-source checks
# the tarballs against the .dsc again. (dpkg-source warns that it cannot check the uploader's
# signature on the .dsc: that needs debian-keyring, and the archive signature already covers it.)
fetch_sources() {
  local stamp=$src_root/.extracted
  if [[ -f $stamp && -x $(cat "$stamp")/configure ]]; then
    say "sources already unpacked in $(cat "$stamp")"
    return
  fi
  step "[1/5] fetching $src_package sources from Debian $suite (private apt configuration)"

  if [[ ! -f /usr/share/keyrings/debian-archive-$suite-stable.gpg ]] &&
    ! gpg --no-default-keyring --keyring "$archive_keyring" --list-keys 2>/dev/null | grep -q 'Debian Archive Automatic Signing Key (13/'; then
    say "warning: $archive_keyring seems to lack the $suite keys; upgrade debian-archive-keyring if apt reports NO_PUBKEY"
  fi

  local mirror
  mirror=$(find_debian_mirror)
  if [[ -n ${FT_DEBIAN_MIRROR:-} ]]; then
    say "Debian mirror (FT_DEBIAN_MIRROR): $mirror"
  else
    say "Debian mirror (from the machine's apt sources): $mirror"
  fi

  mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,state} "$src_root"
  : >"$apt_dir/status"      # no installed packages: this apt only downloads sources
  : >"$apt_dir/preferences"
  echo "deb-src [signed-by=$archive_keyring] $mirror $suite main" >"$apt_dir/sources.list"

  # --error-on=any: a failed index download is an error here, not a warning.
  quietly apt_private update --error-on=any
  rm -rf "$src_root/download"
  mkdir -p "$src_root/download"
  (cd "$src_root/download" && quietly apt_private source --download-only "$src_package/$suite")

  local dsc tree
  dsc=$(find "$src_root/download" -maxdepth 1 -name "${src_package}_*.dsc" | sort | tail -n 1)
  [[ -n $dsc ]] || { say "apt-get source left no .dsc in $src_root/download"; return 1; }
  tree=$src_root/$(basename "$dsc" .dsc | sed 's/_/-/; s/-[^-]*$//')   # python3.13-3.13.5
  rm -rf "$tree"
  quietly dpkg-source --skip-patches -x "$dsc" "$tree"
  [[ -x $tree/configure ]] || { say "no configure script in $tree"; return 1; }
  echo "$tree" >"$stamp"
}

configure_and_build() {
  local tree
  tree=$(cat "$src_root/.extracted")
  local configure_args=(
    --prefix="$prefix"
    --disable-gil
    --enable-shared
    --with-ensurepip=no         # no pip wheels are fetched; nothing may come from PyPI anyway
    --without-system-libmpdec   # Debian 12 has no libmpdec-dev: use the bundled copy
    # The rpath lets python3.13t and its extension modules find libpython3.13t.so without
    # LD_LIBRARY_PATH. (Programs that embed it need their own rpath: the .pc has no such flag.)
    LDFLAGS="-Wl,-rpath,$prefix/lib"
    PYTHON_FOR_REGEN=/usr/bin/python3
  )
  mkdir -p "$build_dir"
  # Re-run configure only when the sources or the arguments change.
  local wanted_stamp="$tree ${configure_args[*]}"
  if [[ ! -f $build_dir/Makefile || $(cat "$build_dir/.configured" 2>/dev/null) != "$wanted_stamp" ]]; then
    step "[2/5] configuring (--disable-gil --enable-shared --prefix=$prefix)"
    rm -rf "$build_dir"
    mkdir -p "$build_dir"
    (cd "$build_dir" && quietly "$tree/configure" "${configure_args[@]}")
    echo "$wanted_stamp" >"$build_dir/.configured"
  fi
  step "[3/5] compiling with make -j$(nproc) (a few minutes)"
  (cd "$build_dir" && quietly make -j"$(nproc)")
  step "[4/5] installing into $prefix"
  (cd "$build_dir" && quietly make install)
}

# The checks that decide success: GIL off, the stdlib modules we need, and an embedding program
# built from the installed .pc file.
verify_build() {
  step "[5/5] verifying the installed interpreter"
  have_working_build || { say "$python_bin does not run with the GIL disabled, or $embed_pc.pc is missing"; return 1; }
  "$python_bin" -I -c '
import sys
import ssl, ctypes, sqlite3, asyncio, zlib, bz2, lzma, json, decimal, uuid, hashlib
assert not sys._is_gil_enabled(), "an stdlib import re-enabled the GIL"
print("build-cpython-ft:   Python %s (abiflags %r); GIL enabled: %s; stdlib modules OK; %s"
      % (sys.version.split()[0], sys.abiflags, sys._is_gil_enabled(), ssl.OPENSSL_VERSION))
' >&2
  verify_embedding
}

verify_embedding() {
  local tmp
  tmp=$(mktemp -d /tmp/pycnode-ft-embed.XXXXXX)
  cat >"$tmp/embed.c" <<'EOF'
#include <Python.h>
int main(void) {
#ifndef Py_GIL_DISABLED
    fputs("Py_GIL_DISABLED is not defined by pyconfig.h\n", stderr);
    return 2;
#endif
    Py_Initialize();
    int rc = PyRun_SimpleString(
        "import sys\n"
        "print('build-cpython-ft:   embedded', sys.version.split()[0], 'GIL enabled:', sys._is_gil_enabled())\n"
        "assert not sys._is_gil_enabled()\n");
    if (Py_FinalizeEx() < 0) rc = 1;
    return rc == 0 ? 0 : 1;
}
EOF
  local flags
  flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs "$embed_pc")
  local ok=1
  # shellcheck disable=SC2086 # pkg-config output is a list of flags
  if ! cc -o "$tmp/embed" "$tmp/embed.c" $flags -Wl,-rpath,"$prefix/lib" >>"$log" 2>&1; then
    ok=0
  elif ! env -u PYTHONHOME -u PYTHONPATH -u PYTHON_GIL "$tmp/embed" >&2; then
    ok=0
  fi
  rm -rf "$tmp"
  ((ok)) || { say "embedding test program failed (pkg-config $embed_pc)"; return 1; }
}

# Informational: which web frameworks from Debian 12's python3-* packages import on 3.13t when
# /usr/lib/python3/dist-packages is appended to sys.path, and whether any import turned the GIL
# back on. Never fails the build; packages that are not installed are listed as such.
report_frameworks() {
  [[ ${FT_CHECK_FRAMEWORKS:-1} == 1 ]] || return 0
  say "frameworks from /usr/lib/python3/dist-packages on 3.13t:"
  local name module pkg
  for name in flask:python3-flask starlette:python3-starlette django:python3-django \
    quart:python3-quart werkzeug:python3-werkzeug httpx:python3-httpx \
    fastapi:python3-fastapi falcon:python3-falcon bottle:python3-bottle; do
    module=${name%%:*}
    pkg=${name#*:}
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      printf 'build-cpython-ft:   %-10s not checked (%s not installed)\n' "$module" "$pkg" >&2
      continue
    fi
    "$python_bin" -I -c '
import sys, importlib
sys.path.append("/usr/lib/python3/dist-packages")
name = sys.argv[1]
try:
    m = importlib.import_module(name)
    v = getattr(m, "__version__", "")
    if not v:
        from importlib.metadata import version
        try: v = version(name)
        except Exception: v = "?"
    print("build-cpython-ft:   %-10s OK %-10s GIL enabled after import: %s" % (name, v, sys._is_gil_enabled()))
except BaseException as e:
    print("build-cpython-ft:   %-10s FAILS  %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
' "$module" >&2 || true
  done
}

main() {
  if [[ $prefix =~ [[:space:]] ]]; then
    say "the prefix must not contain white space: $prefix"
    exit 2
  fi
  if have_working_build; then
    say "free-threaded CPython already built in $prefix ($python_bin); nothing to do"
    exit 0
  fi

  mkdir -p "$work_dir"
  # Two builds into the same tree at once would trample each other.
  exec 9>"$work_dir/.build-cpython-ft.lock"
  flock 9
  if have_working_build; then
    say "free-threaded CPython already built in $prefix by a concurrent run; nothing to do"
    exit 0
  fi

  : >"$log"
  trap on_exit EXIT
  local started=$SECONDS
  say "building free-threaded CPython 3.13 into $prefix (log: $log)"
  step "[0/5] checking build dependencies"
  ensure_packages "${build_packages[@]}"
  fetch_sources
  configure_and_build
  verify_build
  report_frameworks
  say "done in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s: $python_bin, pkg-config $embed_pc in $prefix/lib/pkgconfig"
}

main "$@"
