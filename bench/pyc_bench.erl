%% @doc The Erlang half of `make bench' (bench/run.sh): every scenario that
%% goes over Erlang distribution, at each concurrency, through pyc_load, with
%% the server's CPU time and peak RSS read from /proc over the measured
%% window. Writes its results as JSON (rewritten after each scenario, so a
%% failure midway keeps what was measured) and prints one line per result.
%%
%%   erl ... -run pyc_bench main PycSname FloorSname PycOsPid OutFile
%%                               Seconds WarmupMs "1 16 64 256" ClkTck
%%                               Group Only InflightCallers
%%
%% Group: `base' (every scenario at each concurrency, against pycnode and the
%% floor node) or `inflight' (the rows that keep many requests waiting at
%% once, each at its own number of callers, against a pycnode started with
%% the gunicorn anchor's --threads; FloorSname is "none"). Only: scenario ids,
%% space- or comma-separated, "all" for all (BENCH_ONLY). InflightCallers: the
%% callers of the in-flight rows, and the requests parked under the hello.
-module(pyc_bench).
-export([main/1]).
-export([json/1]).  % also bench/pyc_soak.erl's report

main([PycName, FloorName, PycOsPid, Out, Seconds, WarmupMs, Concurrency, ClkTck, Group, Only,
      InflightCallers]) ->
    try
        run(#{pyc => node_named(PycName),
              floor => case FloorName of "none" -> none; _ -> node_named(FloorName) end,
              pyc_os_pid => PycOsPid, out => Out,
              duration_ms => list_to_integer(Seconds) * 1000,
              warmup_ms => list_to_integer(WarmupMs),
              concurrency => [list_to_integer(C) || C <- string:lexemes(Concurrency, " ")],
              clk_tck => list_to_integer(ClkTck), group => list_to_atom(Group),
              only => case Only of "all" -> []; _ -> string:lexemes(Only, " ,") end,
              inflight_callers => list_to_integer(InflightCallers)}),
        halt(0)
    catch Class:Reason:Stack ->
        io:format(standard_error, "pyc_bench failed: ~p:~p~n~p~n", [Class, Reason, Stack]),
        halt(1)
    end.

node_named(Sname) ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    list_to_atom(Sname ++ "@" ++ Host).

run(#{pyc := Pyc, floor := Floor, group := Group, only := Only} = Cfg) ->
    pong = net_adm:ping(Pyc),
    FloorOsPid = case Floor of
                     none -> none;
                     _ -> pong = net_adm:ping(Floor), rpc:call(Floor, os, getpid, [])
                 end,
    {ok, Stats} = gen_server:call({pycnode, Pyc}, stats),
    Meta = #{otp_release => list_to_binary(erlang:system_info(otp_release)),
             erts_version => list_to_binary(erlang:system_info(version)),
             pycnode => maps:with([python_version, python_implementation, free_threaded,
                                   gil_enabled, workers, threads], Stats)},
    ets:new(bad_replies, [named_table, public]),
    Scenarios = [S || S <- scenarios(Group, Pyc, Floor, maps:get(inflight_callers, Cfg)),
                      Only =:= [] orelse lists:member(atom_to_list(maps:get(id, S)), Only)],
    %% A scenario's own concurrency (the in-flight rows) over the run's.
    Cases = [{S, N} || S <- Scenarios, N <- maps:get(concurrency, S, maps:get(concurrency, Cfg))],
    lists:foldl(fun({S, N}, Acc) ->
                        OsPid = case maps:get(os_pid, S) of floor -> FloorOsPid;
                                                            pycnode -> maps:get(pyc_os_pid, Cfg) end,
                        R = measure(S, N, OsPid, Cfg),
                        progress(R),
                        All = Acc ++ [R],
                        ok = file:write_file(maps:get(out, Cfg),
                                             json(#{meta => Meta, results => All})),
                        alive(OsPid) orelse error({server_died, maps:get(server, S), OsPid}),
                        All
                end, [], Cases),
    ok.

%% Each scenario: what is sent, to whom, and what a good reply looks like
%% (anything else counts as an error).
scenarios(base, Pyc, Floor, _) ->
    P = {pycnode, Pyc},
    Scope = scope(),
    Environ = environ(),
    Hello = fun hello/1,
    WsgiHello = fun wsgi_hello/1,
    Json = fun({ok, {S, _, B}}) when S =:= 200; S =:= <<"200 OK">> -> is_hello_json(B);
              (_) -> false end,
    [#{id => ping, server => erlang, target => {floor_server, Floor}, request => ping,
       check => fun(R) -> R =:= pong end, os_pid => floor},
     #{id => ping, server => pycnode, target => P, request => ping,
       check => fun(R) -> R =:= pong end, os_pid => pycnode},
     #{id => call_add, server => pycnode, target => P,
       request => {call, <<"bench_app">>, <<"add">>, [1, 2]},
       check => fun(R) -> R =:= {ok, 3} end, os_pid => pycnode},
     #{id => asgi_hello, server => pycnode, target => P,
       request => {asgi, <<"bench_app">>, <<"hello">>, Scope, <<>>, #{}},
       check => Hello, os_pid => pycnode},
     #{id => asgi_hello_via_call, server => pycnode, target => P,
       request => {call, <<"bench_app">>, <<"asgi_hello_via_call">>, [Scope, <<>>]},
       check => Hello, os_pid => pycnode},
     #{id => asgi_hello_via_call_bare, server => pycnode, target => P,
       request => {call, <<"bench_app">>, <<"asgi_hello_via_call_bare">>, [Scope, <<>>]},
       check => Hello, os_pid => pycnode},
     #{id => wsgi_hello, server => pycnode, target => P,
       request => {wsgi, <<"bench_app">>, <<"wsgi_hello">>, Environ, #{}},
       check => WsgiHello, os_pid => pycnode},
     #{id => starlette_json, server => pycnode, target => P,
       request => {asgi, <<"bench_starlette">>, <<"app">>, Scope, <<>>, #{}},
       check => Json, os_pid => pycnode},
     #{id => flask_json, server => pycnode, target => P,
       request => {wsgi, <<"bench_flask">>, <<"app">>, Environ, #{}},
       check => Json, os_pid => pycnode}]
    %% Last: big bodies leave the allocator's high-water mark behind them.
    %% Each echo also against the floor node: what the same request and
    %% reply cost between two Erlang nodes, the anchor of these rows.
    ++ lists:append([[echo(P, pycnode, Id, Size), echo({floor_server, Floor}, erlang, Id, Size)]
                     || {Id, Size} <- [{echo_64k, 64 * 1024}, {echo_1m, 1024 * 1024}]]);
%% Many requests in flight: apps that wait 20 ms (bench/apps/bench_app.py),
%% at `Callers' callers each, compared in the report with uvicorn and gunicorn
%% (gthread) serving the same apps to wrk -c`Callers'; and the ASGI hello's
%% latency from 1 caller while `Callers' ASGI requests wait on an event that
%% is set only after the measurement (the park in measure/4).
scenarios(inflight, Pyc, _, Callers) ->
    P = {pycnode, Pyc},
    [#{id => asgi_sleep, server => pycnode, target => P, concurrency => [Callers],
       request => {asgi, <<"bench_app">>, <<"asgi_sleep">>, scope(), <<>>, #{}},
       check => fun hello/1, os_pid => pycnode},
     #{id => wsgi_sleep, server => pycnode, target => P, concurrency => [Callers],
       request => {wsgi, <<"bench_app">>, <<"wsgi_sleep">>, environ(), #{}},
       check => fun wsgi_hello/1, os_pid => pycnode},
     #{id => call_async_sleep, server => pycnode, target => P, concurrency => [Callers],
       request => {call, <<"bench_app">>, <<"call_sleep">>, []},
       check => fun(R) -> R =:= {ok, ok} end, os_pid => pycnode},
     %% A hello that waits behind the parked requests for seconds is an
     %% error, not a figure: 5 s bounds the run when that happens.
     #{id => asgi_hello_parked, server => pycnode, target => P, concurrency => [1],
       request => {asgi, <<"bench_app">>, <<"hello">>, scope(), <<>>, #{}},
       check => fun hello/1, os_pid => pycnode, timeout => 5000,
       park => #{count => Callers,
                 request => {asgi, <<"bench_app">>, <<"parked">>, scope(), <<>>, #{}},
                 check => fun({ok, {200, _, <<"released">>}}) -> true; (_) -> false end,
                 release => {call, <<"bench_app">>, <<"release_parked">>, []}}}].

scope() ->
    #{type => <<"http">>, method => <<"GET">>, path => <<"/">>,
      headers => [[<<"host">>, <<"localhost">>]], server => {<<"localhost">>, 8080}}.

environ() ->
    #{<<"REQUEST_METHOD">> => <<"GET">>, <<"PATH_INFO">> => <<"/">>,
      <<"SERVER_NAME">> => <<"localhost">>, <<"SERVER_PORT">> => <<"8080">>,
      <<"HTTP_HOST">> => <<"localhost">>, <<"wsgi.input">> => <<>>}.

hello({ok, {200, _, <<"Hello, World!">>}}) -> true;
hello(_) -> false.

wsgi_hello({ok, {<<"200 OK">>, _, <<"Hello, World!">>}}) -> true;
wsgi_hello(_) -> false.

echo(Target, Server, Id, Size) ->
    Body = binary:copy(<<"0123456789abcdef">>, Size div 16),
    Scope = #{type => <<"http">>, method => <<"POST">>, path => <<"/echo">>,
              headers => [[<<"host">>, <<"localhost">>],
                          [<<"content-type">>, <<"application/octet-stream">>],
                          [<<"content-length">>, integer_to_binary(Size)]],
              server => {<<"localhost">>, 8080}},
    #{id => Id, server => Server, target => Target, body_bytes => Size,
      request => {asgi, <<"bench_app">>, <<"echo">>, Scope, Body, #{}},
      check => fun({ok, {200, _, B}}) -> B =:= Body; (_) -> false end,
      os_pid => case Server of pycnode -> pycnode; erlang -> floor end}.

is_hello_json(Body) ->
    binary:match(Body, [<<"{\"hello\":\"world\"}">>, <<"{\"hello\": \"world\"}">>]) =/= nomatch.

%% A scenario with `park': its requests are sent first and left waiting
%% (each caller with a 10-minute timeout) through the warm-up and the
%% measurement, then released; one that answers before its release, or
%% wrongly, or not within 10 s of it, counts as an error of the row.
measure(#{id := Id, server := Server, target := Target, park := Park} = S, N, OsPid, Cfg) ->
    #{count := Count, request := ParkRequest} = Park,
    Self = self(),
    Parked = [spawn(fun() -> Self ! {parked, self(), call(Target, ParkRequest, 600000)} end)
              || _ <- lists:seq(1, Count)],
    Measured = try
                   wait_parked(Target, Count, erlang:monotonic_time(millisecond) + 10000),
                   {ok, measure(maps:remove(park, S), N, OsPid, Cfg)}
               catch Class:Reason:Stack -> {raise, Class, Reason, Stack}
               end,
    ParkErrors = release(Id, Server, Target, Park, Parked),  % whatever happened
    case Measured of
        {ok, R} -> R#{parked => Count, errors := maps:get(errors, R) + ParkErrors};
        {raise, C, E, St} -> erlang:raise(C, E, St)
    end;
measure(#{id := Id, server := Server, target := Target, request := Request, check := Check} = S,
        N, OsPid, #{duration_ms := Duration, warmup_ms := Warmup, clk_tck := ClkTck}) ->
    Timeout = maps:get(timeout, S, 60000),
    %% One call first: the module imports and the app starts outside the
    %% warm-up, and a wrong reply is shown right away, in full.
    First = call(Target, Request, Timeout),
    Check(First) orelse report_bad(Id, Server, First),
    R = pyc_load:run(Target, Request, N, Duration,
                     #{warmup_ms => Warmup, timeout => Timeout,
                       check => fun(Reply) -> Check(Reply) orelse report_bad(Id, Server, Reply) end,
                       sampler => fun() -> sampler(OsPid, ClkTck) end}),
    Keys = [{p50, p50_us}, {p90, p90_us}, {p99, p99_us}, {max, max_us}],
    maps:merge(maps:with([concurrency, requests, errors, rps, cpu_s, peak_rss_kib], R),
               maps:merge(#{scenario => Id, server => Server, duration_s => Duration / 1000,
                            body_bytes => maps:get(body_bytes, S, 0)},
                          maps:from_list([{New, maps:get(Old, R)} || {Old, New} <- Keys]))).

call(Target, Request, Timeout) ->
    try gen_server:call(Target, Request, Timeout) catch exit:Reason -> {exit, Reason} end.

%% Releases the parked requests and returns how many went wrong: answered
%% before their release, wrongly, or not within 10 s of it.
release(Id, Server, Target, #{count := Count, check := Check, release := Release}, Parked) ->
    Early = flush_parked([]),
    Released = call(Target, Release, 10000),
    Late = collect_parked(Parked -- [P || {P, _} <- Early], erlang:monotonic_time(millisecond) + 10000, []),
    Bad = [Reply || {_, Reply} <- Late, not Check(Reply)],
    Missing = Count - length(Early) - length(Late),
    %% report_bad shows the first of a row only: the likeliest cause first.
    element(1, Released) =:= ok orelse report_bad(Id, Server, {release, Released}),
    [report_bad(Id, Server, {answered_before_release, Reply}) || {_, Reply} <- Early],
    [report_bad(Id, Server, {parked_reply, Reply}) || Reply <- Bad],
    Missing =:= 0 orelse report_bad(Id, Server, {not_answered_10s_after_release, Missing}),
    length(Early) + length(Bad) + Missing.

%% Until pycnode counts `Count' requests in flight (nothing else is sent
%% meanwhile: they are the parked ones); fails after the deadline.
wait_parked(Target, Count, Deadline) ->
    {ok, Stats} = gen_server:call(Target, stats),
    InFlight = maps:get(requests_in_flight, Stats, 0),
    Now = erlang:monotonic_time(millisecond),
    if InFlight >= Count -> ok;
       Now >= Deadline -> error({not_parked, InFlight, Count});
       true -> receive after 20 -> wait_parked(Target, Count, Deadline) end
    end.

flush_parked(Acc) ->
    receive {parked, P, Reply} -> flush_parked([{P, Reply} | Acc]) after 0 -> Acc end.

collect_parked([], _, Acc) -> Acc;
collect_parked(Pids, Deadline, Acc) ->
    receive {parked, P, Reply} -> collect_parked(Pids -- [P], Deadline, [{P, Reply} | Acc])
    after max(0, Deadline - erlang:monotonic_time(millisecond)) -> Acc
    end.

%% The first wrong reply of each scenario goes to stderr (truncated);
%% returns false, so it can stand in a check.
report_bad(Id, Server, Reply) ->
    case ets:update_counter(bad_replies, {Id, Server}, 1, {{Id, Server}, 0}) of
        1 -> io:format(standard_error, "~s on ~s: wrong reply: ~P~n", [Id, Server, Reply, 12]);
        _ -> ok
    end,
    false.

%% /proc: utime + stime (fields 14 and 15 of stat, in clock ticks, all
%% threads), and the peak RSS since clear_refs was told "5" (VmHWM).
sampler(OsPid, ClkTck) ->
    ok = file:write_file(proc(OsPid, "clear_refs"), <<"5">>),
    T0 = cpu_ticks(OsPid),
    fun() -> #{cpu_s => (cpu_ticks(OsPid) - T0) / ClkTck, peak_rss_kib => vm_hwm_kib(OsPid)} end.

cpu_ticks(OsPid) ->
    {ok, Stat} = file:read_file(proc(OsPid, "stat")),
    %% The command name (field 2) may hold spaces: count from after its ')'.
    [_, Rest] = string:split(Stat, <<")">>, trailing),
    Fields = string:lexemes(Rest, " "),
    binary_to_integer(lists:nth(12, Fields)) + binary_to_integer(lists:nth(13, Fields)).

vm_hwm_kib(OsPid) ->
    {ok, Status} = file:read_file(proc(OsPid, "status")),
    {match, [Kib]} = re:run(Status, <<"VmHWM:\\s+(\\d+) kB">>, [{capture, all_but_first, binary}]),
    binary_to_integer(Kib).

proc(OsPid, File) -> "/proc/" ++ OsPid ++ "/" ++ File.

alive(OsPid) -> filelib:is_dir("/proc/" ++ OsPid).

progress(#{scenario := Id, server := Server, concurrency := N, rps := Rps, p99_us := P99,
           errors := Errors, requests := Requests, cpu_s := Cpu}) ->
    CpuPerReq = case Requests of 0 -> 0.0; _ -> Cpu * 1.0e6 / Requests end,
    io:format("~-20s ~-9s N=~-4B ~9B req/s  p99 ~8.3f ms  cpu ~7.1f us/req  errors ~B~n",
              [Id, Server, N, round(Rps), P99 / 1000, CpuPerReq, Errors]).

%% Just enough JSON for these results: maps, lists, binaries, atoms, numbers.
json(M) when is_map(M) ->
    ["{", lists:join(",", [[json(key(K)), ":", json(V)] || {K, V} <- lists:sort(maps:to_list(M))]), "}"];
json(L) when is_list(L) -> ["[", lists:join(",", [json(X) || X <- L]), "]"];
json(true) -> "true";
json(false) -> "false";
json(undefined) -> "null";
json(A) when is_atom(A) -> json(atom_to_binary(A));
json(I) when is_integer(I) -> integer_to_binary(I);
json(F) when is_float(F) -> float_to_binary(F, [short]);
json(B) when is_binary(B) -> [$", [escape(C) || <<C>> <= B], $"].

key(K) when is_atom(K) -> atom_to_binary(K);
key(K) when is_binary(K) -> K.

escape($") -> "\\\"";
escape($\\) -> "\\\\";
escape(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
escape(C) -> C.
