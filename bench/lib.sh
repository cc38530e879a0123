# Sourced by bench/profile.sh and bench/callgrind.sh: a private epmd and one
# pycnode (optionally under a wrapper such as valgrind), stopped on exit.
#
#   start_pycnode SNAME COOKIE WAIT_SECONDS [WRAPPER...] -- [PYCNODE OPTIONS...]
#   sets $work (a temporary directory, removed on exit unless BENCH_KEEP is
#   set), $pyc (pycnode's pid) and ERL_EPMD_PORT, and compiles
#   bench/pyc_load.erl and bench/bench_requests.erl into $work.
python=/usr/bin/python3  # Debian's, whatever is first on PATH
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; [[ -n "${BENCH_KEEP:-}" ]] || rm -rf "$work"' EXIT

start_pycnode() {
  local sname=$1 cookie=$2 wait_s=$3 wrapper=()
  shift 3
  while [[ $# -gt 0 && "$1" != "--" ]]; do wrapper+=("$1"); shift; done
  shift
  ERL_EPMD_PORT=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export ERL_EPMD_PORT
  epmd -port "$ERL_EPMD_PORT" & pids+=($!)
  "${wrapper[@]}" "$binary" --sname "$sname" --cookie "$cookie" --pythonpath bench/apps "$@" \
    2>"$work/pycnode.log" & pyc=$!
  pids+=($pyc)
  for _ in $(seq 1 $((wait_s * 10))); do grep -q "pycnode ready" "$work/pycnode.log" && break; sleep 0.1; done
  grep -q "pycnode ready" "$work/pycnode.log" || { cat "$work/pycnode.log" >&2; exit 1; }
  erlc -o "$work" bench/pyc_load.erl bench/bench_requests.erl
}
