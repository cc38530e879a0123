%% @doc The Erlang half of `make soak' (bench/soak.sh): a long mixed load on
%% one pycnode, every reply checked, with faults mixed in, and pycnode's
%% memory, threads and file descriptors read from /proc at the start and the
%% end. Prints a summary, writes it to OutDir/soak.{md,json}, and halts with
%% status 1 when one of the checks in report/4 failed (2 if the driver
%% itself crashed).
%%
%%   erl ... -run pyc_soak main PycSname PycOsPid Seconds Callers WarmupSeconds OutDir Binary
%%
%% with SOAK_PEER_PID_DIR set to a directory where the OS pid of each live
%% peer node is kept (a file each), for soak.sh to stop what a run cut short
%% leaves behind.
%%
%% What runs, all for Seconds:
%% - Callers processes, each making one gen_server call at a time, its kind
%%   drawn at random (kinds/0): generic calls (sync and async), ASGI (a hello
%%   and a Starlette app with a body), WSGI (a hello and a Flask app with a
%%   JSON body), ping, stats, and the faults a caller can cause: Python
%%   exceptions, bad requests, callers that give up (short timeouts on slow
%%   requests, so pycnode cancels them), callers killed with a call in flight,
%%   and 1 MiB bodies now and then;
%% - after the warm-up, when the start sample has been taken:
%%   - every ?PEER_INTERVAL_MS, an Erlang peer node that connects to pycnode,
%%     calls it from ?PEER_CALLERS processes (slow requests among them, so
%%     calls are in flight), and is stopped or killed (SIGKILL) after 1.5 to
%%     3 s; pycnode must drop it from its peers within ?GONE_MS;
%%   - every ?RAW_INTERVAL_MS, a raw TCP socket to pycnode's port that sends
%%     garbage, nothing, a bad node name, a wrong cookie, or hangs up
%%     mid-message: pycnode must close it within ?RAW_CLOSE_MS, and count
%%     each one in handshakes_refused.
%% - pycnode's VmRSS every ?SAMPLE_MS.
%% Then, once the load has stopped and pycnode is quiet again (nothing in
%% flight, only this node connected, no handshake pending, no output queued),
%% the end sample.
-module(pyc_soak).
-export([main/1, peer_start/3]).

-define(SAMPLE_MS, 10000).
%% Peer nodes: a whole BEAM boots each time (about a second of CPU), so one
%% every 10 s keeps it a fault mixed into the load rather than the load.
-define(PEER_INTERVAL_MS, 10000).
-define(PEER_CALLERS, 8).
%% How long pycnode may take to notice a peer node is gone: a killed node's
%% socket is closed by its kernel, so this is generous.
-define(GONE_MS, 10000).
-define(RAW_INTERVAL_MS, 500).
%% pycnode's default --handshake-timeout (5 s), plus slack for a busy machine.
-define(RAW_CLOSE_MS, 8000).
%% A reply slower than this is unexpected (the give-up kinds use their own).
-define(TIMEOUT_MS, 30000).
-define(BIG_BYTES, 1024 * 1024).
-define(QUIET_MS, 30000).

main([PycSname, PycOsPid, Seconds, Callers, WarmupSeconds, OutDir, Binary]) ->
    try
        Ok = run(#{pyc => node_named(PycSname), os_pid => PycOsPid,
                   duration_ms => list_to_integer(Seconds) * 1000,
                   callers => list_to_integer(Callers),
                   warmup_ms => list_to_integer(WarmupSeconds) * 1000,
                   out => OutDir, binary => Binary}),
        halt(case Ok of true -> 0; false -> 1 end)
    catch Class:Reason:Stack ->
        io:format(standard_error, "pyc_soak failed: ~p:~p~n~p~n", [Class, Reason, Stack]),
        halt(2)
    end.

node_named(Sname) ->
    list_to_atom(Sname ++ "@" ++ host()).

host() ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Host.

%% --- the run ------------------------------------------------------------------

run(#{pyc := Pyc, os_pid := OsPid, duration_ms := Duration, callers := NCallers,
      warmup_ms := Warmup} = Cfg) ->
    pong = net_adm:ping(Pyc),
    Target = {pycnode, Pyc},
    ets:new(soak_counts, [named_table, public, {write_concurrency, true}]),
    ets:new(soak_first, [named_table, public]),  % the first unexpected reply of each kind
    ets:new(soak_samples, [named_table, public, ordered_set]),  % {Seq, Sample}: see sample/3
    %% One 1 MiB body for every big request: what is measured is pycnode's
    %% memory, not this node's.
    Big = rand:bytes(?BIG_BYTES),
    Ctx = #{target => Target, big => Big, pyc => Pyc},
    {ok, Port} = pyc_port(Pyc),
    %% Every kind once, in turn, first: modules import, apps start, and a
    %% kind that is broken shows at once (and a short run covers them all).
    [record(Kind, request(Kind, Ctx)) || {Kind, _} <- kinds()],
    io:format("soak: ~B s, ~B callers, pycnode ~s (pid ~s), warm-up ~B s~n",
              [Duration div 1000, NCallers, maps:get(binary, Cfg), OsPid, Warmup div 1000]),
    T0 = now_ms(),
    Deadline = T0 + Duration,
    Self = self(),
    Callers = [spawn_link(fun() -> caller(Ctx, Deadline), Self ! {done, self()} end)
               || _ <- lists:seq(1, NCallers)],
    sleep_until(T0 + Warmup),
    Start = sample(OsPid, Target, T0),
    io:format("soak: start (after the warm-up): ~s~n", [format_sample(Start)]),
    Collector = spawn_link(fun collector/0),
    Faults = [spawn_link(fun() -> peer_cycles(Pyc, Collector, Deadline, 1), Self ! {done, self()} end),
              spawn_link(fun() -> raw_sockets(Port, Deadline), Self ! {done, self()} end)],
    End = try
              sample_until(OsPid, Target, T0, Deadline),
              [receive {done, P} -> ok end || P <- Callers ++ Faults],
              Collector ! {stop, self()},
              receive {stopped, Collector} -> ok end,
              Quiet = wait_quiet(OsPid, Target, now_ms() + ?QUIET_MS),
              Last = sample(OsPid, Target, T0),
              io:format("soak: end (quiet: ~p): ~s~n", [Quiet =:= quiet, format_sample(Last)]),
              Quiet =:= quiet orelse unexpected(quiet_at_end, Quiet),
              Last
          catch throw:pycnode_died ->
              %% Nothing left to load or to measure: the load stops, and
              %% the report says what was seen until then.
              [begin unlink(P), exit(P, kill) end || P <- Callers ++ Faults ++ [Collector]],
              lists:last(samples())
          end,
    Report = report(Cfg, Start, End, samples()),
    print(Report),
    ok = filelib:ensure_dir(filename:join(maps:get(out, Cfg), "x")),
    ok = file:write_file(filename:join(maps:get(out, Cfg), "soak.json"), [pyc_bench:json(Report), "\n"]),
    ok = file:write_file(filename:join(maps:get(out, Cfg), "soak.md"), markdown(Report)),
    maps:get(ok, Report).

%% pycnode's listen port, from epmd: where the raw sockets go.
pyc_port(Pyc) ->
    [Name, Host] = string:split(atom_to_list(Pyc), "@"),
    case erl_epmd:port_please(Name, Host) of
        {port, Port, _Version} -> {ok, Port};
        Other -> error({no_port_from_epmd, Other})
    end.

%% Samples every ?SAMPLE_MS until the deadline, printing a line each time.
sample_until(OsPid, Target, T0, Deadline) ->
    sleep_until(min(Deadline, now_ms() + ?SAMPLE_MS)),
    case now_ms() >= Deadline of
        true -> ok;
        false ->
            io:format("soak: ~s~n", [format_sample(sample(OsPid, Target, T0))]),
            sample_until(OsPid, Target, T0, Deadline)
    end.

%% pycnode's VmRSS, VmHWM, threads and fds, and this run's counts so far;
%% kept in soak_samples too (samples/0), so that a run whose pycnode died
%% still reports them. Throws pycnode_died when pycnode is gone.
sample(OsPid, Target, T0) ->
    alive(OsPid) orelse died(OsPid),
    Status = read_proc(OsPid, "status"),
    Stats = case call(Target, stats, ?TIMEOUT_MS) of
                {ok, M} when is_map(M) -> M;
                Other -> unexpected(stats_sample, Other), #{}
            end,
    S = #{t_s => (now_ms() - T0) div 1000,
          rss_kib => status_kib(Status, <<"VmRSS">>), hwm_kib => status_kib(Status, <<"VmHWM">>),
          threads => length(list_proc(OsPid, "task")), fds => length(list_proc(OsPid, "fd")),
          requests => counted(req), unexpected => counted(unexpected),
          stats => maps:with([requests_served, requests_failed, requests_cancelled, replies_dropped,
                              requests_overloaded, handshakes_refused, handshakes_evicted,
                              connections_closed_stalled, requests_in_flight, connected_peers], Stats)},
    ets:insert(soak_samples, {erlang:unique_integer([monotonic]), S}),
    S.

samples() -> [S || {_, S} <- ets:tab2list(soak_samples)].

format_sample(#{t_s := T, rss_kib := Rss, threads := Th, fds := Fds, requests := R, unexpected := U}) ->
    io_lib:format("~4B s  RSS ~.1f MiB  threads ~B  fds ~B  requests ~B  unexpected ~B",
                  [T, Rss / 1024, Th, Fds, R, U]).

died(OsPid) ->
    io:format(standard_error, "soak: pycnode (pid ~s) died~n", [OsPid]),
    throw(pycnode_died).

%% Until pycnode has nothing in flight, no output queued, no handshake
%% pending and this node as its only peer; else what is still there.
wait_quiet(OsPid, Target, Deadline) ->
    alive(OsPid) orelse died(OsPid),
    case call(Target, stats, ?TIMEOUT_MS) of
        {ok, #{requests_in_flight := 0, output_queued_bytes := 0, handshakes_pending := 0,
               peers := Peers}} when Peers =:= [node()] ->
            quiet;
        Reply ->
            case now_ms() >= Deadline of
                true -> {not_quiet, Reply};
                false -> receive after 200 -> wait_quiet(OsPid, Target, Deadline) end
            end
    end.

%% --- the callers ----------------------------------------------------------------

%% Kinds and their weights (per 1000 requests). Faults are about a quarter
%% of the load: enough that each happens thousands of times in a 10-minute
%% run, few enough that most of the load is requests that succeed.
kinds() ->
    [{call_sync, 140}, {call_async, 140}, {asgi_hello, 120}, {asgi_starlette, 90},
     {wsgi_hello, 120}, {wsgi_flask, 70}, {ping, 60}, {stats, 20},
     {python_error, 120}, {bad_request, 60}, {give_up, 35}, {caller_killed, 21},
     {big_body, 4}].

caller(Ctx, Deadline) ->
    case now_ms() >= Deadline of
        true -> ok;
        false ->
            Kind = pick(rand:uniform(1000), kinds()),
            record(Kind, request(Kind, Ctx)),
            caller(Ctx, Deadline)
    end.

pick(N, [{Kind, W} | _]) when N =< W -> Kind;
pick(N, [{_, W} | Rest]) -> pick(N - W, Rest).

%% One request of a kind: ok, {expected, ErrorClass} (an error reply that is
%% the right one), or {unexpected, What}.
request(call_sync, #{target := T}) ->
    A = rand:uniform(1 bsl 40), B = -rand:uniform(1000),
    expect(call(T, {call, <<"soak_app">>, <<"add">>, [A, B]}, ?TIMEOUT_MS), {ok, A + B});
request(call_async, #{target := T}) ->
    N = rand:uniform(1000000),
    Term = #{<<"n">> => N, <<"list">> => [N, -N, N / 4], <<"tuple">> => {ok, integer_to_binary(N)}},
    expect(call(T, {call, <<"soak_app">>, <<"async_echo">>, [Term]}, ?TIMEOUT_MS), {ok, Term});
request(asgi_hello, #{target := T}) ->
    case call(T, {asgi, <<"bench_app">>, <<"hello">>, scope(<<"GET">>, <<"/">>, []), <<>>, #{}}, ?TIMEOUT_MS) of
        {ok, {200, _, <<"Hello, World!">>}} -> ok;
        Other -> {unexpected, Other}
    end;
request(asgi_starlette, #{target := T}) ->
    Body = rand:bytes(rand:uniform(16384) - 1),
    Scope = scope(<<"POST">>, <<"/echo">>, [[<<"content-type">>, <<"application/octet-stream">>],
                                            [<<"content-length">>, integer_to_binary(byte_size(Body))]]),
    case call(T, {asgi, <<"soak_app">>, <<"starlette_app">>, Scope, Body, #{}}, ?TIMEOUT_MS) of
        {ok, {200, _, Body}} -> ok;
        Other -> {unexpected, Other}
    end;
request(wsgi_hello, #{target := T}) ->
    case call(T, {wsgi, <<"bench_app">>, <<"wsgi_hello">>, environ(<<"GET">>, <<"/">>, <<>>), #{}}, ?TIMEOUT_MS) of
        {ok, {<<"200 OK">>, _, <<"Hello, World!">>}} -> ok;
        Other -> {unexpected, Other}
    end;
request(wsgi_flask, #{target := T}) ->
    Numbers = [rand:uniform(1000) || _ <- lists:seq(1, rand:uniform(20))],
    Json = iolist_to_binary(["{\"numbers\": [", lists:join(", ", [integer_to_list(N) || N <- Numbers]), "]}"]),
    Environ = (environ(<<"POST">>, <<"/sum">>, Json))#{<<"CONTENT_TYPE">> => <<"application/json">>},
    Sum = integer_to_binary(lists:sum(Numbers)),
    case call(T, {wsgi, <<"soak_app">>, <<"flask_app">>, Environ, #{}}, ?TIMEOUT_MS) of
        {ok, {<<"200 OK">>, _, Reply}} = R ->
            case re:run(Reply, <<"\"sum\":\\s*", Sum/binary, "\\b">>) of
                {match, _} -> ok;
                nomatch -> {unexpected, R}
            end;
        Other -> {unexpected, Other}
    end;
request(ping, #{target := T}) ->
    expect(call(T, ping, ?TIMEOUT_MS), pong);
request(stats, #{target := T}) ->
    case call(T, stats, ?TIMEOUT_MS) of
        {ok, #{requests_served := N}} when is_integer(N) -> ok;
        Other -> {unexpected, Other}
    end;
%% Python exceptions from each path: sync and async calls, ASGI and WSGI apps.
request(python_error, #{target := T}) ->
    {Request, Type} =
        element(rand:uniform(4),
                {{{call, <<"soak_app">>, <<"fail">>, [<<"soak">>]}, <<"ValueError">>},
                 {{call, <<"soak_app">>, <<"async_fail">>, [<<"soak">>]}, <<"KeyError">>},
                 {{asgi, <<"soak_app">>, <<"asgi_raising">>, scope(<<"GET">>, <<"/">>, []), <<>>, #{}},
                  <<"RuntimeError">>},
                 {{wsgi, <<"soak_app">>, <<"wsgi_raising">>, environ(<<"GET">>, <<"/">>, <<>>), #{}},
                  <<"ZeroDivisionError">>}}),
    case call(T, Request, ?TIMEOUT_MS) of
        {error, {python, Type, Message, Traceback}} when is_binary(Message), is_binary(Traceback) ->
            {expected, python};
        Other -> {unexpected, Other}
    end;
%% Requests of the wrong shape, each caught at a different place.
request(bad_request, #{target := T}) ->
    Requests = {{call, <<"soak_app">>, <<"add">>, not_a_list},
                {call, 42, <<"add">>, [1, 2]},
                {no_such_request, 1, 2},
                {asgi, <<"bench_app">>, <<"hello">>, #{method => <<"GET">>}, <<>>, #{}},  % no path
                {asgi, <<"bench_app">>, <<"hello">>, scope(<<"GET">>, <<"/">>, []), not_a_body, #{}},
                {wsgi, <<"bench_app">>, <<"wsgi_hello">>, not_a_map, #{}},
                {wsgi, <<"bench_app">>, <<"wsgi_hello">>, #{<<"REQUEST_METHOD">> => 42}, #{}}},
    case call(T, element(rand:uniform(tuple_size(Requests)), Requests), ?TIMEOUT_MS) of
        {error, {bad_request, Detail}} when is_binary(Detail) -> {expected, bad_request};
        Other -> {unexpected, Other}
    end;
%% A caller that stops waiting long before the reply: pycnode cancels the
%% request (async call, ASGI) or drops its result (sync call). A busy
%% scheduler on this node can let the reply in before the timeout fires:
%% then it must be the right one, and is counted apart.
request(give_up, #{target := T}) ->
    I = rand:uniform(3),
    case call(T, slow_request(I, 500, 30), element(I, {20, 20, 5})) of
        {exit, {timeout, _}} -> {expected, gave_up};
        Reply -> in_time(I, 500, 30, Reply, answered_before_give_up)
    end;
%% A caller killed with its call in flight (or, on a busy node, as it
%% returns: counted apart, as above).
request(caller_killed, #{target := T}) ->
    I = rand:uniform(3),
    Request = slow_request(I, 1000, 100),
    {Pid, Ref} = spawn_monitor(fun() -> exit({replied, call(T, Request, infinity)}) end),
    receive after rand:uniform(20) -> ok end,
    exit(Pid, kill),
    receive
        {'DOWN', Ref, process, Pid, killed} -> {expected, caller_killed};
        {'DOWN', Ref, process, Pid, {replied, Reply}} -> in_time(I, 1000, 100, Reply, replied_before_kill);
        {'DOWN', Ref, process, Pid, Other} -> {unexpected, Other}
    after ?TIMEOUT_MS -> {unexpected, not_killed}
    end;
%% 1 MiB each way, through ASGI or WSGI.
request(big_body, #{target := T, big := Big}) ->
    Request = case rand:uniform(2) of
                  1 -> {asgi, <<"bench_app">>, <<"echo">>,
                        scope(<<"POST">>, <<"/echo">>, [[<<"content-length">>, integer_to_binary(?BIG_BYTES)]]),
                        Big, #{}};
                  2 -> {wsgi, <<"soak_app">>, <<"wsgi_echo">>, environ(<<"POST">>, <<"/echo">>, Big), #{}}
              end,
    case call(T, Request, ?TIMEOUT_MS * 2) of
        {ok, {S, _, Big}} when S =:= 200; S =:= <<"200 OK">> -> ok;
        {ok, {S, H, B}} -> {unexpected, {ok, {S, H, {body_bytes, byte_size(B)}}}};
        Other -> {unexpected, Other}
    end.

%% Slow requests: an async call (1) and an ASGI app (2) that wait Ms on an
%% event loop, and a sync call (3) that holds a blocking thread for SyncMs
%% (kept short: pycnode has 8 of them on two cores, and WSGI and sync calls
%% need them too).
slow_request(1, Ms, _) -> {call, <<"soak_app">>, <<"async_slow">>, [Ms]};
slow_request(2, Ms, _) ->
    Scope = (scope(<<"GET">>, <<"/">>, []))#{query_string => integer_to_binary(Ms)},
    {asgi, <<"soak_app">>, <<"asgi_sleeper">>, Scope, <<>>, #{}};
slow_request(3, _, SyncMs) -> {call, <<"soak_app">>, <<"slow">>, [SyncMs]}.

%% Whether Reply is slow_request(I, Ms, SyncMs)'s right reply.
slow_reply_ok(1, Ms, _, Reply) -> Reply =:= {ok, Ms};
slow_reply_ok(2, _, _, {ok, {200, _, <<"slept">>}}) -> true;
slow_reply_ok(2, _, _, _) -> false;
slow_reply_ok(3, _, SyncMs, Reply) -> Reply =:= {ok, SyncMs}.

%% A slow request's reply that came before its caller gave up or was killed.
in_time(I, Ms, SyncMs, Reply, Fault) ->
    case slow_reply_ok(I, Ms, SyncMs, Reply) of
        true -> count({fault, Fault}), ok;
        false -> {unexpected, Reply}
    end.

expect(Reply, Reply) -> ok;
expect(Reply, _) -> {unexpected, Reply}.

call(Target, Request, Timeout) ->
    try gen_server:call(Target, Request, Timeout) catch exit:Reason -> {exit, Reason} end.

scope(Method, Path, Headers) ->
    #{type => <<"http">>, method => Method, path => Path,
      headers => [[<<"host">>, <<"localhost">>] | Headers], server => {<<"localhost">>, 8080}}.

environ(Method, Path, Body) ->
    #{<<"REQUEST_METHOD">> => Method, <<"PATH_INFO">> => Path,
      <<"SERVER_NAME">> => <<"localhost">>, <<"SERVER_PORT">> => <<"8080">>,
      <<"HTTP_HOST">> => <<"localhost">>, <<"wsgi.input">> => Body}.

%% --- counting -----------------------------------------------------------------

record(Kind, Outcome) ->
    count({req, Kind}),
    case Outcome of
        ok -> ok;
        {expected, Class} -> count({error, Class});
        {unexpected, What} -> unexpected(Kind, What)
    end.

count(Key) -> ets:update_counter(soak_counts, Key, 1, {Key, 0}).

%% Counted, and the first of each kind printed (truncated) and kept for the report.
unexpected(Kind, What) ->
    count({unexpected, Kind}),
    Text = iolist_to_binary(io_lib:format("~0P", [What, 30])),  % one line
    case ets:insert_new(soak_first, {Kind, Text}) of
        true -> io:format(standard_error, "soak: unexpected ~s: ~s~n", [Kind, Text]);
        false -> ok
    end.

counted(Class) ->
    lists:sum([N || {{C, _}, N} <- ets:tab2list(soak_counts), C =:= Class]).

by(Class) ->
    maps:from_list([{K, N} || {{C, K}, N} <- ets:tab2list(soak_counts), C =:= Class]).

%% The peer nodes' callers report here (they cannot reach this node's ets).
%% Calls sent by the peers' callers that got no reply: cut off when their
%% node went, in flight at pycnode or not yet sent.
collector() ->
    receive
        peer_sent -> count({fault, peer_calls_cut_off}), collector();
        {peer_result, Kind, Outcome} ->
            ets:update_counter(soak_counts, {fault, peer_calls_cut_off}, -1),
            record(Kind, Outcome),
            collector();
        {stop, From} -> From ! {stopped, self()}
    end.

%% --- peer nodes ------------------------------------------------------------------

peer_cycles(Pyc, Collector, Deadline, N) ->
    Started = now_ms(),
    %% A cycle takes up to ~5 s on a busy machine: none starts that could not end in time.
    case Started + 5000 >= Deadline of
        true -> ok;
        false ->
            peer_cycle(Pyc, Collector, N),
            sleep_until(min(Deadline, Started + ?PEER_INTERVAL_MS)),
            peer_cycles(Pyc, Collector, Deadline, N + 1)
    end.

%% Starts a peer node, has it call pycnode, then stops it (odd cycles:
%% peer:stop, the node halts) or kills it (even cycles: SIGKILL, its socket
%% closed by the kernel) with calls in flight; pycnode must forget it.
peer_cycle(Pyc, Collector, N) ->
    Name = "soak_peer_" ++ integer_to_list(N) ++ "_" ++ os:getpid(),
    Args = ["-setcookie", atom_to_list(erlang:get_cookie()),
            "-pa", filename:dirname(code:which(?MODULE))],
    How = case N rem 2 of 1 -> peer_stopped; 0 -> peer_killed end,
    case peer:start(#{name => Name, args => Args, wait_boot => 30000}) of
        {ok, Peer, Node} ->
            try
                OsPid = erpc:call(Node, os, getpid, []),
                PidFile = filename:join(os:getenv("SOAK_PEER_PID_DIR"), OsPid),
                ok = file:write_file(PidFile, <<>>),
                try
                    ok = erpc:call(Node, ?MODULE, peer_start, [Pyc, Collector, ?PEER_CALLERS]),
                    receive after 1500 + rand:uniform(1500) -> ok end,
                    How =:= peer_killed andalso os:cmd("kill -KILL " ++ OsPid)
                after
                    try peer:stop(Peer) catch exit:_ -> ok end,
                    file:delete(PidFile)
                end
            catch Class:Reason ->
                try peer:stop(Peer) catch exit:_ -> ok end,
                unexpected(peer_cycle, {Class, Reason})
            end,
            count({fault, How}),
            case wait_gone(Pyc, Node, now_ms() + ?GONE_MS) of
                gone -> ok;
                Still -> unexpected(peer_gone, {Node, How, Still})
            end;
        Error -> unexpected(peer_start, Error)
    end.

wait_gone(Pyc, Node, Deadline) ->
    case call({pycnode, Pyc}, stats, ?TIMEOUT_MS) of
        {ok, #{peers := Peers}} = Reply ->
            case {lists:member(Node, Peers), now_ms() >= Deadline} of
                {false, _} -> gone;
                {true, true} -> {still_connected, Reply};
                {true, false} -> receive after 100 -> wait_gone(Pyc, Node, Deadline) end
            end;
        Other -> {no_stats, Other}
    end.

%% Runs on the peer node: N callers that loop until the node goes away,
%% half of their requests slow ones that wait without a timeout, so the
%% node dies with calls in flight. Results go to Collector on the soak node.
peer_start(Pyc, Collector, N) ->
    Ctx = #{target => {pycnode, Pyc}, pyc => Pyc},
    [spawn(fun() -> peer_caller(Ctx, Collector) end) || _ <- lists:seq(1, N)],
    ok.

peer_caller(#{target := T} = Ctx, Collector) ->
    Collector ! peer_sent,
    {Kind, Outcome} =
        case rand:uniform(6) of
            1 -> {peer_call_sync, request(call_sync, Ctx)};
            2 -> {peer_asgi_hello, request(asgi_hello, Ctx)};
            3 -> {peer_wsgi_hello, request(wsgi_hello, Ctx)};
            I ->  % waits; its reply, if the node lives that long, is checked too
                Reply = call(T, slow_request(I - 3, 2000, 100), infinity),
                {peer_slow, case slow_reply_ok(I - 3, 2000, 100, Reply) of
                                true -> ok;
                                false -> {unexpected, Reply}
                            end}
        end,
    Collector ! {peer_result, Kind, Outcome},
    peer_caller(Ctx, Collector).

%% --- raw sockets ------------------------------------------------------------------

%% A raw TCP client every ?RAW_INTERVAL_MS, in its own process; waits for
%% them all at the end. Silent ones hold their socket until pycnode's
%% handshake timeout, so none starts too close to the deadline.
raw_sockets(Port, Deadline) ->
    raw_sockets(Port, Deadline, []).

raw_sockets(Port, Deadline, Clients) ->
    Now = now_ms(),
    case Now >= Deadline of
        true -> [receive {'DOWN', Ref, process, _, _} -> ok end || Ref <- Clients], ok;
        false ->
            Modes = case Now + ?RAW_CLOSE_MS < Deadline of
                        true -> {garbage, silent, bad_name, wrong_cookie, hangup};
                        false -> {garbage, bad_name, wrong_cookie, hangup}
                    end,
            Mode = element(rand:uniform(tuple_size(Modes)), Modes),
            {_, Ref} = spawn_monitor(fun() -> raw_client(Port, Mode) end),
            receive after ?RAW_INTERVAL_MS -> ok end,
            raw_sockets(Port, Deadline, [Ref | Clients])
    end.

raw_client(Port, Mode) ->
    Kind = list_to_atom("raw_" ++ atom_to_list(Mode)),
    count({fault, Kind}),
    case gen_tcp:connect(host(), Port, [binary, {active, false}, {packet, raw}], 5000) of
        {ok, S} ->
            Outcome = try raw_send(S, Mode) catch Class:Reason -> {Class, Reason} end,
            gen_tcp:close(S),
            case Outcome of
                ok -> ok;
                Bad -> unexpected(Kind, Bad)
            end;
        {error, Reason} -> unexpected(Kind, {connect, Reason})
    end.

%% What each mode sends; then pycnode must close the socket.
raw_send(S, garbage) ->
    gen_tcp:send(S, rand:bytes(16 + rand:uniform(240))),
    await_close(S, now_ms() + ?RAW_CLOSE_MS);
raw_send(S, silent) ->
    await_close(S, now_ms() + ?RAW_CLOSE_MS);
raw_send(S, bad_name) ->
    gen_tcp:send(S, send_name(<<"not a node name">>)),
    await_close(S, now_ms() + ?RAW_CLOSE_MS);
%% A well-formed name with the right flags, then a challenge reply whose
%% digest is not our cookie's: pycnode answers the name (sok and its
%% challenge), then refuses.
raw_send(S, wrong_cookie) ->
    Name = list_to_binary("soak_raw_" ++ integer_to_list(erlang:unique_integer([positive])) ++ "@" ++ host()),
    gen_tcp:send(S, send_name(Name)),
    case gen_tcp:recv(S, 0, ?RAW_CLOSE_MS) of
        {ok, <<0, 3, "sok", _/binary>>} ->
            gen_tcp:send(S, <<21:16, $r, 0:32, (rand:bytes(16))/binary>>),
            await_close(S, now_ms() + ?RAW_CLOSE_MS);
        Other -> {no_challenge, Other}
    end;
raw_send(S, hangup) ->
    gen_tcp:send(S, <<0, 40, $N, 0, 0>>),  % a send_name cut short; we close
    ok.

%% OTP 23's send_name: flags HANDSHAKE_23 | MANDATORY_25_DIGEST, creation 1.
send_name(Name) ->
    Body = <<$N, (16#1000000 bor 16#4000000):64, 1:32, (byte_size(Name)):16, Name/binary>>,
    <<(byte_size(Body)):16, Body/binary>>.

%% ok once pycnode has closed the socket (whatever it sent before), else
%% still_open at the deadline.
await_close(S, Deadline) ->
    case gen_tcp:recv(S, 0, max(0, Deadline - now_ms())) of
        {ok, _} -> await_close(S, Deadline);
        {error, closed} -> ok;
        {error, econnreset} -> ok;
        {error, timeout} -> still_open;
        {error, Other} -> {error, Other}
    end.

%% --- the report -------------------------------------------------------------------

report(#{os_pid := OsPid, duration_ms := Duration, callers := Callers, warmup_ms := Warmup,
         binary := Binary}, Start, End, Samples) ->
    #{rss_kib := Rss0, fds := Fds0, threads := Th0, stats := Stats0} = Start,
    #{rss_kib := Rss1, fds := Fds1, threads := Th1, stats := Stats1, hwm_kib := Hwm} = End,
    Peak = lists:max([R || #{rss_kib := R} <- Samples]),
    BoundKib = round(1.5 * Rss0) + 64 * 1024,
    Deltas = maps:from_list([{K, V - maps:get(K, Stats0, 0)} || {K, V} <- maps:to_list(Stats1),
                             K =/= requests_in_flight, K =/= connected_peers]),
    Unexpected = counted(unexpected),
    %% Only the raw sockets fail their handshakes (the peers have the
    %% cookie), all after the start sample and closed before the end one.
    RawSockets = lists:sum([N || {{fault, K}, N} <- ets:tab2list(soak_counts),
                                 lists:prefix("raw_", atom_to_list(K))]),
    Refused = maps:get(handshakes_refused, Deltas, 0) + maps:get(handshakes_evicted, Deltas, 0),
    Checks = #{no_unexpected_replies => Unexpected =:= 0,
               every_raw_socket_refused => Refused =:= RawSockets,
               pycnode_alive => alive(OsPid),
               rss_within_bound => Rss1 =< BoundKib,
               fds_not_grown => Fds1 =< Fds0,
               threads_not_grown => Th1 =< Th0},
    #{ok => lists:all(fun(V) -> V end, maps:values(Checks)),
      checks => Checks, seconds => Duration div 1000, callers => Callers,
      warmup_seconds => Warmup div 1000, binary => list_to_binary(Binary),
      otp_release => list_to_binary(erlang:system_info(otp_release)),
      finished => list_to_binary(calendar:system_time_to_rfc3339(erlang:system_time(second),
                                                                  [{offset, "Z"}])),
      requests => by(req), total_requests => counted(req), errors => by(error),
      unexpected => by(unexpected), unexpected_total => Unexpected,
      unexpected_first => maps:from_list(ets:tab2list(soak_first)),
      faults => by(fault), pycnode_stats_delta => Deltas,
      rss_mib => #{start => mib(Rss0), peak => mib(Peak), 'end' => mib(Rss1),
                   bound => mib(BoundKib), hwm => mib(Hwm)},
      fds => #{start => Fds0, 'end' => Fds1}, threads => #{start => Th0, 'end' => Th1},
      samples => [maps:with([t_s, rss_kib, threads, fds, requests, unexpected], S) || S <- Samples]}.

mib(Kib) -> round(Kib / 102.4) / 10.

print(R) ->
    io:format("~n~s", [summary(R)]).

summary(#{seconds := Secs, callers := C, total_requests := Total, requests := Req, errors := Err,
          faults := Faults, unexpected_total := U, unexpected := UBy, rss_mib := Rss,
          fds := Fds, threads := Th, checks := Checks, ok := Ok, pycnode_stats_delta := D}) ->
    [io_lib:format("soak summary: ~B s, ~B callers: ~s~n", [Secs, C, case Ok of true -> "PASS"; false -> "FAIL" end]),
     io_lib:format("  requests, warm-up included: ~B (~.1f/s)~n", [Total, Total / max(1, Secs)]),
     kv_lines("    ", Req),
     io_lib:format("  errors, as expected:~n", []), kv_lines("    ", Err),
     io_lib:format("  faults:~n", []), kv_lines("    ", Faults),
     io_lib:format("  unexpected replies: ~B~n", [U]), kv_lines("    ", UBy),
     io_lib:format("  pycnode's stats, start sample to end:~n", []), kv_lines("    ", D),
     io_lib:format("  RSS MiB: start ~p, peak ~p, end ~p (bound ~p; VmHWM ~p)~n",
                   [maps:get(start, Rss), maps:get(peak, Rss), maps:get('end', Rss),
                    maps:get(bound, Rss), maps:get(hwm, Rss)]),
     io_lib:format("  fds: start ~B, end ~B; threads: start ~B, end ~B~n",
                   [maps:get(start, Fds), maps:get('end', Fds), maps:get(start, Th), maps:get('end', Th)]),
     io_lib:format("  checks:~n", []), kv_lines("    ", Checks)].

kv_lines(Indent, M) ->
    [io_lib:format("~s~-28s ~p~n", [Indent, K, V]) || {K, V} <- lists:sort(maps:to_list(M))].

markdown(#{finished := Finished, binary := Binary, otp_release := Otp, warmup_seconds := W,
           samples := Samples, unexpected_first := First} = R) ->
    ["# make soak\n\n",
     io_lib:format("Finished ~s; ~s, OTP ~s, warm-up ~B s (the start sample is taken after it).~n~n",
                   [Finished, Binary, Otp, W]),
     "```\n", summary(R), "```\n\n",
     "## RSS, threads and fds over the run\n\n",
     "| s | RSS MiB | threads | fds | requests so far | unexpected so far |\n",
     "| ---: | ---: | ---: | ---: | ---: | ---: |\n",
     [io_lib:format("| ~B | ~p | ~B | ~B | ~B | ~B |~n", [T, mib(Rss), Th, Fds, N, U])
      || #{t_s := T, rss_kib := Rss, threads := Th, fds := Fds, requests := N, unexpected := U} <- Samples],
     case maps:size(First) of
         0 -> "";
         _ -> ["\n## The first unexpected reply of each kind\n\n",
               [io_lib:format("- ~s: `~s`~n", [K, V]) || {K, V} <- lists:sort(maps:to_list(First))]]
     end].

%% --- helpers ---------------------------------------------------------------------

now_ms() -> erlang:monotonic_time(millisecond).

sleep_until(T) ->
    receive after max(0, T - now_ms()) -> ok end.

alive(OsPid) -> filelib:is_dir("/proc/" ++ OsPid).

read_proc(OsPid, File) ->
    case file:read_file("/proc/" ++ OsPid ++ "/" ++ File) of
        {ok, B} -> B;
        {error, _} -> died(OsPid)
    end.

list_proc(OsPid, Dir) ->
    case file:list_dir("/proc/" ++ OsPid ++ "/" ++ Dir) of
        {ok, L} -> L;
        {error, _} -> died(OsPid)
    end.

status_kib(Status, Field) ->
    {match, [Kib]} = re:run(Status, <<Field/binary, ":\\s+(\\d+) kB">>, [{capture, all_but_first, binary}]),
    binary_to_integer(Kib).
