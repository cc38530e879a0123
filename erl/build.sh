#!/usr/bin/env bash
# Builds the Erlang client application `pycnode' into erl/ebin/:
#   bash erl/build.sh          the beams and ebin/pycnode.app (from src/pycnode.app.src)
#   bash erl/build.sh doc DIR  also its edoc HTML, into DIR (default build/doc/erl)
# Warnings are errors, and every exported function needs a -spec.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p ebin
erlc -Werror +warn_missing_spec +debug_info -o ebin src/*.erl
# The .app file is the .app.src with its module list filled in.
erl -noshell -eval '
    {ok, [{application, App, Props}]} = file:consult("src/pycnode.app.src"),
    Mods = lists:sort([list_to_atom(filename:basename(F, ".erl"))
                       || F <- filelib:wildcard("src/*.erl")]),
    Spec = {application, App, lists:keystore(modules, 1, Props, {modules, Mods})},
    ok = file:write_file("ebin/pycnode.app", io_lib:format("~p.~n", [Spec])),
    halt().'
if [[ ${1:-} == doc ]]; then
  out=${2:-../build/doc/erl}
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  erl -noshell -pa ebin -eval "
      ok = edoc:application(pycnode, \".\", [{dir, \"$out\"}, {preprocess, true}]),
      halt()."
  echo "edoc: $out/index.html"
fi
