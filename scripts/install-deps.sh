#!/usr/bin/env bash
# Installs what pycnode needs to build, run and test, from Debian's archive.
# Idempotent: asks apt only for the packages that are missing.
#
#   bash scripts/install-deps.sh           build, run and test
#   bash scripts/install-deps.sh --bench   and what `make bench` compares
#                                          against and profiles with
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  erlang-nox erlang-dev erlang-eunit erlang-common-test
  erlang-proper  # pycnode_terms_prop_tests (used without proper.hrl, which is in -dev)
  python3 python3-dev libuv1-dev libfmt-dev doctest-dev
  curl  # make run shows the HTTP gateway with curl
  clang-14 libclang-rt-14-dev  # make fuzz (libFuzzer) and make sanitize
  rebar3 elixir  # the client as a rebar3 or Mix dependency (test/packaging)
  # test/apps and pycnode_frameworks_tests: the frameworks, and the references
  # (httpx, werkzeug); python3-multipart is only recommended by starlette, but
  # its form parsing needs it.
  python3-flask python3-django python3-starlette python3-fastapi python3-falcon
  python3-bottle python3-quart python3-httpx python3-werkzeug python3-multipart
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(
    # the servers users pick instead, and the client that drives them
    python3-uvicorn python3-uvloop python3-httptools gunicorn wrk
    python3-matplotlib  # the plot
    linux-perf valgrind  # the profiles of docs/performance.md
  )
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
