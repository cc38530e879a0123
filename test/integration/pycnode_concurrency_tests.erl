%% Many requests in flight per worker, against the real binary, with the apps
%% and functions of test/fixtures/concurrency_fixtures.py: ASGI requests and
%% async calls that wait on their event loop while the worker takes more,
%% WSGI requests and sync calls on --threads blocking threads, the
%% --max-in-flight limit, callers that give up (docs/protocol.md, "When the
%% caller gives up"), and thousands of abandoned calls (no leak).
%%
%% Every test is deterministic: requests wait for each other (gates,
%% barriers, events the test sets), never for a time; timeouts only bound
%% failures. What a request saw is recorded by the app as flags. Waits on
%% stats compare with a baseline taken at the test's start, so that a
%% request a failed test left behind does not fail the next one. Requests go
%% straight to gen_server:call (docs/protocol.md).
-module(pycnode_concurrency_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"concurrency_fixtures">>).
-define(TIMEOUT, 30000).       % bounds a call that fails to answer
-define(WAIT, 15000).          % bounds a wait for a state that fails to come
-define(GATE, 200).            % requests in flight at once on one worker
-define(THREADS, 4).           % --threads of the barrier group
-define(MAX_IN_FLIGHT, 8).
-define(ABANDON, 2000).        % calls abandoned per round
-define(ABANDON_ROUNDS, 3).    % rounds measured after a warm-up round
-define(RSS_GROWTH_KB, 100 * 1024).
-define(GRACE_MS, 500).        % --cancel-grace-ms of the cancel group
-define(FIRST_TIMEOUT, 300).   % a caller's timeout, doubled while its request had not started

%% One event worker and two blocking threads.
in_flight_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("inflight", #{workers => 1, threads => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"200 ASGI requests in flight on one worker", fun asgi_gate/1},
                 {"200 async calls in flight on one worker", fun call_gate/1},
                 {"blocking WSGI and sync calls beside ASGI and async calls", fun blocking_beside_async/1}
             ], 180)
     end}.

barrier_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("barrier", #{workers => 1, threads => ?THREADS}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"WSGI: --threads requests run at once", fun wsgi_barrier/1}
             ], 120)
     end}.

limit_test_() ->
    {setup,
     fun() ->
             pycnode_harness:start_pycnode("maxinflight", #{workers => 1,
                 args => ["--max-in-flight", integer_to_list(?MAX_IN_FLIGHT)]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"--max-in-flight: one more is overloaded at once", fun max_in_flight/1}
             ], 120)
     end}.

cancel_test_() ->
    {setup,
     fun() ->
             pycnode_harness:start_pycnode("cancel", #{workers => 1, threads => 2,
                 args => ["--cancel-grace-ms", integer_to_list(?GRACE_MS)]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"ASGI: the caller's call times out", fun(Q) -> asgi_case(Q, fun by_timeout/3) end},
                 {"ASGI: the calling process is killed", fun(Q) -> asgi_case(Q, fun by_kill/3) end},
                 {"ASGI: the calling node stops", fun(Q) -> asgi_case(Q, fun by_node_stop/3) end},
                 {"async call: the caller's call times out", fun(Q) -> async_case(Q, fun by_timeout/3) end},
                 {"async call: the calling process is killed", fun(Q) -> async_case(Q, fun by_kill/3) end},
                 {"async call: the calling node stops", fun(Q) -> async_case(Q, fun by_node_stop/3) end},
                 {"blocking call: runs to its end, result dropped, nothing sent", fun blocking_dropped/1},
                 {"queued request: dropped, never run", fun queued_dropped/1}
             ], 120)
     end}.

abandon_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("abandon", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"thousands of abandoned async calls: all cancelled, no leak", fun abandon_thousands/1}
             ], 300)
     end}.

%% --- tests -------------------------------------------------------------------

%% Only the 200th arrival opens the gate, so all 200 must be in flight at
%% once on the one worker's loop. Twice, with a reset between: the gate's
%% asyncio.Event is made again on the running loop.
asgi_gate(#{node := N}) ->
    [begin
         reset(N),
         S0 = stats(N),
         Query = <<"gate=asgi&n=", (integer_to_binary(?GATE))/binary>>,
         Replies = parallel([fun() -> asgi(N, <<"gate_app">>, Query) end || _ <- lists:seq(1, ?GATE)]),
         ?assertEqual([], [R || R <- Replies, not is_ok_200(R)]),
         ?assertEqual(lists:seq(1, ?GATE), lists:sort([binary_to_integer(B) || {ok, {200, _, B}} <- Replies])),
         wait_idle(N, S0)
     end || _Round <- [1, 2]].

call_gate(#{node := N}) ->
    [begin
         reset(N),
         S0 = stats(N),
         Replies = parallel([fun() -> fcall(N, <<"wait_for_all">>, [?GATE]) end || _ <- lists:seq(1, ?GATE)]),
         ?assertEqual([{ok, I} || I <- lists:seq(1, ?GATE)], lists:sort(Replies)),
         wait_idle(N, S0)
     end || _Round <- [1, 2]].

%% Both blocking threads held (a WSGI request and a sync call waiting on a
%% threading.Event), a third sync call queued behind them: the event worker
%% still serves ASGI requests and async calls; release() ends the wait.
blocking_beside_async(#{node := N}) ->
    reset(N),
    ?assertEqual({ok, known}, fcall(N, <<"sync_echo">>, [known])),  % now routed straight to a thread
    S0 = stats(N),
    Waiting = stat(requests_waiting, S0) + 1,
    Wsgi = async(fun() -> wsgi(N, <<"wsgi_block">>, <<"w1">>) end),
    Sync = async(fun() -> fcall(N, <<"block">>, [<<"c1">>]) end),
    wait_flags(N, <<"w1">>, [started]),
    wait_flags(N, <<"c1">>, [started]),
    Queued = async(fun() -> fcall(N, <<"sync_echo">>, [queued]) end),
    wait_stats(N, fun(S) -> stat(requests_waiting, S) =:= Waiting end, "the third sync call queued"),
    Replies = parallel([fun() -> asgi(N, <<"sleepy_app">>, <<>>) end || _ <- lists:seq(1, 50)]
                       ++ [fun() -> fcall(N, <<"sleepy">>, [I]) end || I <- lists:seq(1, 50)]),
    ?assertEqual([{ok, {200, [{<<"content-type">>, <<"text/plain">>}], <<"slept">>}}], lists:usort(lists:sublist(Replies, 50))),
    ?assertEqual([{ok, I} || I <- lists:seq(1, 50)], lists:nthtail(50, Replies)),
    ?assertMatch(#{requests_waiting := Waiting}, stats(N)),
    ?assertEqual([started], flags(N, <<"w1">>)),
    ?assertEqual({ok, ok}, fcall(N, <<"release">>, [])),
    ?assertMatch({ok, {<<"200 OK">>, _, <<"released">>}}, await(Wsgi)),
    ?assertEqual({ok, released}, await(Sync)),
    ?assertEqual({ok, queued}, await(Queued)),
    ?assertEqual([started, finished], flags(N, <<"c1">>)),
    wait_idle(N, S0).

%% Twice ?THREADS WSGI requests meet at a threading.Barrier(?THREADS): each
%% round needs ?THREADS of them running at once.
wsgi_barrier(#{node := N}) ->
    reset(N),
    Parties = integer_to_binary(?THREADS),
    Replies = parallel([fun() -> wsgi(N, <<"wsgi_barrier">>, Parties) end || _ <- lists:seq(1, 2 * ?THREADS)]),
    ?assertEqual([{ok, {<<"200 OK">>, [{<<"Content-Type">>, <<"text/plain">>}], <<"released">>}}],
                 lists:usort(Replies)),
    ?assertEqual({ok, {<<"200 OK">>, [{<<"Content-Type">>, <<"text/plain">>}], <<"hello">>}},
                 wsgi(N, <<"wsgi_hello">>, <<>>)).

%% ?MAX_IN_FLIGHT async calls wait for a file (released without a request:
%% any request would be refused); then one more of each kind is refused at
%% once (admitted, each would answer or wait, and the check would fail).
max_in_flight(#{node := N}) ->
    reset(N),
    ?assertEqual({ok, known}, fcall(N, <<"sync_echo">>, [known])),
    File = filename:join(os:getenv("PYCNODE_TEST_DIR"),
                         "release_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Path = list_to_binary(File),
    S0 = stats(N),
    Waiters = [async(fun() -> fcall(N, <<"wait_for_file">>, [Path]) end) || _ <- lists:seq(1, ?MAX_IN_FLIGHT)],
    wait_stats(N, fun(S) -> stat(requests_in_flight, S) =:= ?MAX_IN_FLIGHT end, "the limit reached"),
    Refused = [fcall(N, <<"wait_for_file">>, [Path]), fcall(N, <<"sync_echo">>, [refused]),
               asgi(N, <<"sleepy_app">>, <<>>), wsgi(N, <<"wsgi_hello">>, <<>>)],
    ?assertEqual([{error, overloaded} || _ <- Refused], Refused),
    ?assertEqual(pong, call(N, ping)),
    S1 = stats(N),
    ?assertEqual(stat(requests_overloaded, S0) + length(Refused), stat(requests_overloaded, S1)),
    ?assertEqual(?MAX_IN_FLIGHT, stat(requests_in_flight, S1)),
    ok = file:write_file(File, <<>>),
    ?assertEqual([{ok, released} || _ <- Waiters], [await(W) || W <- Waiters]),
    wait_idle(N, S0),
    Again = parallel([fun() -> fcall(N, <<"wait_for_file">>, [Path]) end || _ <- lists:seq(1, ?MAX_IN_FLIGHT)]),
    ?assertEqual([{ok, released} || _ <- Again], Again),
    served(N),
    ?assertEqual(stat(requests_overloaded, S1), stat(requests_overloaded, stats(N))).

%% Rounds of ?ABANDON async calls that never return, each given up by its
%% caller after 100 ms: every one is cancelled (counted once, its coroutine
%% ended) and pycnode's RSS does not grow past a warm-up round.
abandon_thousands(#{node := N, os_pid := OsPid}) ->
    reset(N),
    abandon(N),
    Rss0 = rss_kb(OsPid),
    [abandon(N) || _ <- lists:seq(1, ?ABANDON_ROUNDS)],
    Rss1 = rss_kb(OsPid),
    pycnode_harness:rss_meaningful() andalso ?assert(Rss1 - Rss0 < ?RSS_GROWTH_KB, {rss_kb, Rss0, Rss1}).

abandon(N) ->
    S0 = stats(N),
    Callers = 100,
    Results = parallel([fun() ->
                                [catch gen_server:call({pycnode, N}, {call, ?FIX, <<"hang">>, []}, 100)
                                 || _ <- lists:seq(1, ?ABANDON div Callers)]
                        end || _ <- lists:seq(1, Callers)]),
    ?assertEqual([], [R || Rs <- Results, R <- Rs, not is_timeout(R)]),
    wait_stats(N, fun(S) -> stat(requests_cancelled, S) =:= stat(requests_cancelled, S0) + ?ABANDON end,
               "every abandoned call cancelled, once"),
    wait_idle(N, S0),
    {ok, Counters} = fcall(N, <<"counters">>, []),
    ?assertEqual(maps:get(<<"hang_started">>, Counters, 0), maps:get(<<"hang_ended">>, Counters, 0)),
    served(N).

%% --- callers that give up ------------------------------------------------------
%%
%% An ASGI request waiting in receive() gets http.disconnect, then its task is
%% cancelled after --cancel-grace-ms; an async call's task is cancelled; a
%% blocking call runs to its end and its result is dropped; a queued request
%% never runs. Each counts once in requests_cancelled; the next is served.

%% wait_for_disconnect loops on receive() until http.disconnect, then waits
%% until its task is cancelled.
asgi_case(#{node := N}, GiveUp) ->
    Id = new_id(),
    Request = {asgi, ?FIX, <<"wait_for_disconnect">>, #{path => <<"/">>, query_string => Id}, <<>>, #{}},
    cancel_case(N, Id, Request, GiveUp, [started, disconnect, cancelled]).

async_case(#{node := N}, GiveUp) ->
    Id = new_id(),
    cancel_case(N, Id, {call, ?FIX, <<"wait_forever">>, [Id]}, GiveUp, [started, cancelled]).

cancel_case(N, Id, Request, GiveUp, Expected) ->
    reset(N),
    S0 = stats(N),
    Attempts = GiveUp(N, Id, Request),
    wait_flags(N, Id, Expected),
    cancelled_once(N, S0, Attempts),
    served(N).

%% A sync call holding a blocking thread cannot be interrupted: its caller
%% (a raw gen_server call from this process, with a plain pid and a
%% monitor, so a reply sent anyway would arrive here) demonitors; the call
%% ends when released and its result is dropped.
blocking_dropped(#{node := N}) ->
    reset(N),
    Id = new_id(),
    S0 = stats(N),
    Mref = erlang:monitor(process, {pycnode, N}),
    {pycnode, N} ! {'$gen_call', {self(), Mref}, {call, ?FIX, <<"block">>, [Id]}},
    wait_flags(N, Id, [started]),
    true = erlang:demonitor(Mref, [flush]),
    %% Sent after the DEMONITOR_P on the same connection: pycnode sees that first.
    ?assertEqual({ok, ok}, fcall(N, <<"release">>, [])),
    wait_flags(N, Id, [started, finished]),
    cancelled_once(N, S0, 1),
    served(N),
    ?assertEqual(nothing_sent, receive {Mref, Reply} -> {sent, Reply} after 200 -> nothing_sent end).

%% Both blocking threads held: a sync call queued behind them is given up
%% (timeout) before it can start, and never runs once they are released.
queued_dropped(#{node := N}) ->
    reset(N),
    ?assertEqual({ok, ran}, fcall(N, <<"record_run">>, [<<"warm-up">>])),  % known sync: queued for a thread
    S0 = stats(N),
    Blockers = [{Id, async(fun() -> fcall(N, <<"block">>, [Id]) end)} || Id <- [new_id(), new_id()]],
    [wait_flags(N, Id, [started]) || {Id, _} <- Blockers],
    Id = new_id(),
    ?assertMatch({'EXIT', {timeout, _}},
                 catch gen_server:call({pycnode, N}, {call, ?FIX, <<"record_run">>, [Id]}, ?FIRST_TIMEOUT)),
    ?assertEqual({ok, ok}, fcall(N, <<"release">>, [])),
    [?assertEqual({ok, released}, await(Ref)) || {_, Ref} <- Blockers],
    cancelled_once(N, S0, 1),
    served(N),
    ?assertEqual([], flags(N, Id)).

%% Each of the Count requests given up since the stats S0 counts once in
%% requests_cancelled, and none is still in flight.
cancelled_once(N, S0, Count) ->
    Cancelled = stat(requests_cancelled, S0) + Count,
    wait_stats(N, fun(S) -> stat(requests_cancelled, S) =:= Cancelled end, {requests_cancelled, Cancelled}),
    wait_idle(N, S0).

%% --- ways to give up: each returns how many requests it abandoned ----------

%% gen_server:call's timeout. A request given up before it even started is
%% dropped unseen (also a cancellation): then again with a longer timeout,
%% so that the app sees the give-up from inside.
by_timeout(N, Id, Request) ->
    by_timeout(N, Id, Request, ?FIRST_TIMEOUT, 1).

by_timeout(N, Id, Request, Timeout, Attempts) ->
    S0 = stats(N),
    ?assertMatch({'EXIT', {timeout, _}}, catch gen_server:call({pycnode, N}, Request, Timeout)),
    wait_idle(N, S0),
    case flags(N, Id) of
        [] when Timeout < 10000 -> by_timeout(N, Id, Request, 2 * Timeout, Attempts + 1);
        _ -> Attempts
    end.

%% The caller is killed while its request waits in the app.
by_kill(N, Id, Request) ->
    {Pid, Mon} = spawn_monitor(fun() -> exit({answered, gen_server:call({pycnode, N}, Request, infinity)}) end),
    wait_flags(N, Id, [started]),
    exit(Pid, kill),
    ?assertEqual(killed, receive {'DOWN', Mon, process, Pid, Reason} -> Reason end),
    1.

%% The caller runs on a peer node, which stops while the request waits:
%% its connection to pycnode closes.
by_node_stop(N, Id, Request) ->
    Peer = pycnode_harness:start_peer("cancel", #{}),
    try
        Pid = pycnode_harness:peer_call(Peer, erlang, spawn, [gen_server, call, [{pycnode, N}, Request, infinity]]),
        ?assert(is_pid(Pid)),
        wait_flags(N, Id, [started])
    after
        pycnode_harness:stop_peer(Peer)
    end,
    1.

rss_kb(OsPid) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(OsPid) ++ "/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, binary}]),
    binary_to_integer(Kb).

is_ok_200({ok, {200, _, _}}) -> true;
is_ok_200(_) -> false.

is_timeout({'EXIT', {timeout, _}}) -> true;
is_timeout(_) -> false.

%% --- helpers -------------------------------------------------------------------

call(N, Request) ->
    gen_server:call({pycnode, N}, Request, ?TIMEOUT).

fcall(N, Function, Args) ->
    call(N, {call, ?FIX, Function, Args}).

asgi(N, App, Query) ->
    call(N, {asgi, ?FIX, App, #{path => <<"/">>, query_string => Query}, <<>>, #{}}).

wsgi(N, App, Query) ->
    call(N, {wsgi, ?FIX, App, #{<<"QUERY_STRING">> => Query, <<"wsgi.input">> => <<>>}, #{}}).

reset(N) ->
    ?assertEqual({ok, ok}, fcall(N, <<"reset">>, [])).

flags(N, Id) ->
    {ok, Flags} = fcall(N, <<"flags">>, [Id]),
    Flags.

stats(N) ->
    {ok, Stats} = call(N, stats),
    Stats.

stat(Key, Stats) ->
    maps:get(Key, Stats).

new_id() ->
    integer_to_binary(erlang:unique_integer([positive])).

%% Runs each fun in its own process, released together; their results (or
%% {'EXIT', Reason}) in order.
parallel(Funs) ->
    Self = self(),
    Go = make_ref(),
    Pids = [spawn_link(fun() -> receive Go -> Self ! {Go, self(), catch F()} end end) || F <- Funs],
    [Pid ! Go || Pid <- Pids],
    [receive {Go, Pid, R} -> R after ?TIMEOUT + 10000 -> {no_answer, Pid} end || Pid <- Pids].

async(Fun) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, catch Fun()} end),
    Ref.

await(Ref) ->
    receive {Ref, Result} -> Result after ?TIMEOUT + 10000 -> {no_answer, Ref} end.

wait_flags(N, Id, Expected) ->
    case pycnode_harness:wait_until(fun() -> flags(N, Id) =:= Expected end, ?WAIT, 20) of
        timeout -> ?assertEqual(Expected, flags(N, Id));
        _ -> ok
    end.

wait_stats(N, Pred, What) ->
    case pycnode_harness:wait_until(fun() -> Pred(stats(N)) end, ?WAIT, 20) of
        timeout -> erlang:error({timeout_waiting_for, What, stats(N)});
        _ -> ok
    end.

%% Waits until as many requests are in flight as in the stats S0, taken at
%% the test's start: a request a failed test left behind does not fail the
%% next one.
wait_idle(N, S0) ->
    In0 = stat(requests_in_flight, S0),
    wait_stats(N, fun(S) -> stat(requests_in_flight, S) =:= In0 end, {requests_in_flight, In0}).

%% The next requests of every kind are served.
served(N) ->
    ?assertMatch({ok, {200, _, <<"slept">>}}, asgi(N, <<"sleepy_app">>, <<>>)),
    ?assertEqual({ok, 7}, fcall(N, <<"sleepy">>, [7])),
    ?assertEqual({ok, 8}, fcall(N, <<"sync_echo">>, [8])),
    ?assertMatch({ok, {<<"200 OK">>, _, <<"hello">>}}, wsgi(N, <<"wsgi_hello">>, <<>>)).
