%% Deadlines and stuck workers, against the real binary, with the functions
%% and apps of test/fixtures/deadline_fixtures.py (docs/reliability.md,
%% "Deadlines and stuck workers"): requests past their deadline (the node's
%% --request-timeout, or the request's own `timeout' option) are answered
%% {error, timeout}; a thread still running one is stuck: reported in the
%% log, stats and health, replaced (up to --max-stuck), and left behind
%% when the node stops.
%%
%% No test waits for a time: each waits for a state (flags the fixtures
%% record, stats, health, threads in /proc), with a bound that only limits
%% a failure. Requests go straight to gen_server:call with a long timeout,
%% so that an {error, timeout} can only be pycnode's.
-module(pycnode_deadline_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"deadline_fixtures">>).
-define(TIMEOUT, 30000).    % bounds a call that fails to answer
-define(WAIT, 15000).       % bounds a wait for a state that fails to come
-define(NODE_DEADLINE, 300).  % --request-timeout of the flag group
-define(DEADLINE, 300).     % the requests' own timeout elsewhere
-define(LONGER, 1500).      % a deadline that passes after ?DEADLINE's

%% --request-timeout sets the deadline of requests that set none.
node_timeout_test_() ->
    group("flag", #{workers => 1, threads => 1,
                    args => ["--request-timeout", integer_to_list(?NODE_DEADLINE), "--cancel-grace-ms", "100"]},
          [{"async call past --request-timeout: {error, timeout}, its task cancelled", fun node_async/1},
           {"ASGI past --request-timeout: {error, timeout}, http.disconnect, then cancelled", fun node_asgi/1}]).

%% The node's default (60 s) stays out of the way: requests set their own.
request_timeout_test_() ->
    group("own", #{workers => 1, threads => 1},
          [{"{call, M, F, A, #{timeout}}: {error, timeout}, its task cancelled", fun own_async/1},
           {"ASGI Opts timeout: {error, timeout}, http.disconnect, then cancelled", fun own_asgi/1},
           {"a malformed timeout is a bad_request; {call, M, F, A} still works", fun own_malformed/1},
           {"a request queued past its deadline is answered, never run", fun own_queued/1}]).

%% One event worker and one blocking thread, replaced when stuck.
stuck_test_() ->
    group("stuck", #{workers => 1, threads => 1},
          [{"sync call stuck: reported, its thread replaced, exits when it returns", fun stuck_thread/1},
           {"event worker spinning in a coroutine: replaced, ASGI served meanwhile", fun stuck_worker/1},
           {"requests waiting on a stuck worker's loop: {error, timeout} at their deadline", fun stuck_parked/1},
           {"event worker blocked in a turn of its loop: its waiting request answered", fun stuck_turn/1},
           {"pycnode:call/5 sends its timeout: a sync call past it is stuck", fun client_call/1},
           {"py_asgi:run/5 sends its timeout: an app blocked past it is stuck", fun client_asgi/1}]).

%% --max-stuck 0: nothing is replaced, so health says when nothing serves.
health_test_() ->
    group("health", #{workers => 1, threads => 1, args => ["--max-stuck", "0"]},
          [{"every blocking thread stuck: unhealthy (ping still pong), healthy once it returns", fun health_threads/1},
           {"every event worker stuck: unhealthy, healthy once it returns", fun health_workers/1}]).

sigterm_test_() ->
    {timeout, 60, {"SIGTERM with a stuck thread and a stuck worker: the node exits", fun sigterm_stuck/0}}.

group(Label, Opts, Cases) ->
    {setup,
     fun() -> pycnode_harness:start_pycnode(Label, Opts) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) -> pycnode_harness:tests(P, Cases, 120) end}.

%% --- deadlines of requests waiting on an event loop ----------------------------

node_async(#{node := N}) ->
    async_case(N, fun(Id) -> {call, ?FIX, <<"wait_forever">>, [Id]} end).

own_async(#{node := N}) ->
    async_case(N, fun(Id) -> {call, ?FIX, <<"wait_forever">>, [Id], #{timeout => ?DEADLINE}} end).

node_asgi(#{node := N}) ->
    asgi_case(N, #{}).

own_asgi(#{node := N}) ->
    asgi_case(N, #{timeout => ?DEADLINE}).

async_case(N, Request) ->
    reset(N),
    S0 = stats(N),
    Id = new_id(),
    ?assertEqual({error, timeout}, call(N, Request(Id))),
    wait_flags(N, Id, [started, cancelled]),
    timed_out_once(N, S0).

%% The caller is answered at the deadline; the app hears http.disconnect
%% and is cancelled after --cancel-grace-ms, as for a caller that left.
asgi_case(N, Opts) ->
    reset(N),
    S0 = stats(N),
    Id = new_id(),
    ?assertEqual({error, timeout}, asgi(N, <<"wait_app">>, Id, Opts)),
    wait_flags(N, Id, [started, disconnect, cancelled]),
    timed_out_once(N, S0).

timed_out_once(N, S0) ->
    S1 = stats(N),
    ?assertEqual(stat(requests_timed_out, S0) + 1, stat(requests_timed_out, S1)),
    ?assertEqual(stat(requests_cancelled, S0), stat(requests_cancelled, S1)),
    wait_idle(N, S0),
    served(N).

own_malformed(#{node := N}) ->
    Detail = <<"Opts: timeout must be an integer of milliseconds, 0..4294967295">>,
    [?assertEqual({error, {bad_request, Detail}}, call(N, Request))
     || Request <- [{call, ?FIX, <<"sync_echo">>, [x], #{timeout => -1}},
                    {call, ?FIX, <<"sync_echo">>, [x], #{timeout => infinity}},
                    {asgi, ?FIX, <<"hello_app">>, scope(<<>>), <<>>, #{timeout => 1.5}}]],
    ?assertEqual({error, {bad_request, <<"Opts must be a map">>}}, call(N, {call, ?FIX, <<"sync_echo">>, [x], []})),
    ?assertEqual({ok, x}, call(N, {call, ?FIX, <<"sync_echo">>, [x], #{}})),
    ?assertEqual({ok, x}, call(N, {call, ?FIX, <<"sync_echo">>, [x]})).

%% The only blocking thread is held; a sync call with a short deadline
%% queues behind it. Once that deadline has passed (it counts from the
%% request's arrival, before it showed in requests_waiting), the thread is
%% released: the queued call is answered {error, timeout} and never runs.
own_queued(#{node := N}) ->
    reset(N),
    ?assertEqual({ok, ran}, fcall(N, <<"record_run">>, [<<"warm-up">>])),  % known sync: queued for the thread
    S0 = stats(N),
    Blocker = new_id(),
    Block = async(fun() -> fcall(N, <<"block">>, [Blocker]) end),
    wait_flags(N, Blocker, [started]),
    Id = new_id(),
    Queued = async(fun() -> call(N, {call, ?FIX, <<"record_run">>, [Id], #{timeout => 50}}) end),
    wait_stats(N, fun(S) -> stat(requests_waiting, S) =:= stat(requests_waiting, S0) + 1 end, "the call queued"),
    timer:sleep(100),  % past the queued call's deadline: it is only ever later
    release(N),
    ?assertEqual({ok, released}, await(Block)),
    ?assertEqual({error, timeout}, await(Queued)),
    ?assertEqual([], flags(N, Id)),
    ?assertEqual(stat(requests_timed_out, S0) + 1, stat(requests_timed_out, stats(N))),
    wait_idle(N, S0).

%% --- stuck threads ------------------------------------------------------------

%% The watchdog answers the stuck call's caller, marks the thread stuck and
%% starts another; a later sync call is served by it. Released, the stuck
%% thread exits instead of taking work: one blocking thread again.
stuck_thread(#{node := N, os_pid := OsPid} = P) ->
    reset(N),
    ?assertEqual({ok, 1}, fcall(N, <<"sync_echo">>, [1])),  % known sync: straight to a thread
    S0 = stats(N),
    Threads = threads_named(OsPid, "pythread-"),
    Stuck0 = pycnode_harness:log_count(P, "blocking thread [0-9]+ is stuck: the request call deadline_fixtures.block "),
    Back0 = pycnode_harness:log_count(P, "returned from a step stuck past its deadline.*it exits"),
    Id = new_id(),
    ?assertEqual({error, timeout}, call(N, {call, ?FIX, <<"block">>, [Id], #{timeout => ?DEADLINE}})),
    ?assertEqual([started], flags(N, Id)),
    wait_stats(N, fun(S) -> stat(threads_stuck, S) =:= 1 end, "the thread stuck"),
    S1 = stats(N),
    ?assertEqual(stat(stuck_detected, S0) + 1, stat(stuck_detected, S1)),
    ?assertEqual(stat(requests_timed_out, S0) + 1, stat(requests_timed_out, S1)),
    ?assertMatch(#{healthy := true, threads_available := 1}, S1),
    ?assertEqual(Stuck0 + 1, pycnode_harness:log_count(P, "blocking thread [0-9]+ is stuck: the request call deadline_fixtures.block ")),
    ?assertEqual({ok, 2}, fcall(N, <<"sync_echo">>, [2])),
    ?assertEqual(Threads + 1, threads_named(OsPid, "pythread-")),
    release(N),
    wait_flags(N, Id, [started, finished]),
    wait_stats(N, fun(S) -> stat(threads_stuck, S) =:= 0 end, "the stuck thread returned"),
    wait_for(fun() -> threads_named(OsPid, "pythread-") =:= Threads end, "the stuck thread exited"),
    wait_for(fun() -> pycnode_harness:log_count(P, "returned from a step stuck past its deadline.*it exits") =:= Back0 + 1 end,
             "its return logged"),
    wait_idle(N, S0),
    served(N).

%% An ASGI app that runs Python without ever yielding holds the only event
%% worker; a fresh worker serves the next requests (release() among them).
stuck_worker(#{node := N, os_pid := OsPid} = P) ->
    reset(N),
    S0 = stats(N),
    Workers = threads_named(OsPid, "pyworker-"),
    Id = new_id(),
    ?assertEqual({error, timeout}, asgi(N, <<"spin_app">>, Id, #{timeout => ?DEADLINE})),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 1 end, "the worker stuck"),
    ?assertEqual(1, pycnode_harness:log_count(P, "event worker [0-9]+ is stuck: the request asgi deadline_fixtures.spin_app ")),
    ?assertMatch({ok, {200, _, <<"hello">>}}, asgi(N, <<"hello_app">>, <<>>, #{})),
    ?assertEqual(Workers + 1, threads_named(OsPid, "pyworker-")),
    release(N),
    wait_flags(N, Id, [started, finished]),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 0 end, "the stuck worker returned"),
    wait_for(fun() -> threads_named(OsPid, "pyworker-") =:= Workers end, "the stuck worker exited"),
    wait_idle(N, S0),
    served(N).

%% An async call waits on the worker's loop; then an app blocks that worker
%% with a shorter deadline. The worker cannot answer its waiting call when
%% that call's deadline passes; the watchdog does. Released, the worker
%% cancels the call's task, and exits.
stuck_parked(#{node := N}) ->
    reset(N),
    S0 = stats(N),
    Waiter = new_id(),
    Wait = async(fun() -> call(N, {call, ?FIX, <<"wait_forever">>, [Waiter], #{timeout => ?LONGER}}) end),
    wait_flags(N, Waiter, [started]),
    Blocker = new_id(),
    ?assertEqual({error, timeout}, asgi(N, <<"block_app">>, Blocker, #{timeout => ?DEADLINE})),
    ?assertEqual({error, timeout}, await(Wait)),
    ?assertMatch(#{workers_stuck := 1}, stats(N)),
    release(N),
    wait_flags(N, Blocker, [started, finished]),
    wait_flags(N, Waiter, [started, cancelled]),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 0 end, "the stuck worker returned"),
    ?assertEqual(stat(requests_timed_out, S0) + 2, stat(requests_timed_out, stats(N))),
    wait_idle(N, S0),
    served(N).

%% A coroutine that waited once runs on as a task of the loop, then blocks
%% in a turn of it: the watchdog cannot tell which request runs there, and
%% answers the ones waiting on that loop as their deadlines pass.
stuck_turn(#{node := N} = P) ->
    reset(N),
    S0 = stats(N),
    Id = new_id(),
    ?assertEqual({error, timeout}, call(N, {call, ?FIX, <<"block_after_await">>, [Id], #{timeout => ?DEADLINE}})),
    ?assertEqual([started], flags(N, Id)),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 1 end, "the worker stuck"),
    ?assertEqual(1, pycnode_harness:log_count(P, "event worker [0-9]+ is stuck: a turn of its event loop")),
    release(N),
    wait_flags(N, Id, [started, finished]),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 0 end, "the stuck worker returned"),
    wait_idle(N, S0),
    served(N).

%% The client's own timeout ends its call either way; that the node's
%% default (60 s) is not what applies shows in the thread stuck at once.
client_call(#{node := N}) ->
    reset(N),
    S0 = stats(N),
    Id = new_id(),
    ?assertEqual({error, timeout}, pycnode:call(N, ?FIX, block, [Id], #{timeout => ?DEADLINE})),
    wait_stats(N, fun(S) -> stat(threads_stuck, S) =:= 1 end, "the thread stuck"),
    release(N),
    wait_stats(N, fun(S) -> stat(threads_stuck, S) =:= 0 end, "the stuck thread returned"),
    wait_idle(N, S0).

client_asgi(#{node := N}) ->
    reset(N),
    S0 = stats(N),
    Id = new_id(),
    ?assertEqual({error, timeout},
                 py_asgi:run(?FIX, block_app, scope(Id), <<>>, #{node => N, timeout => ?DEADLINE})),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 1 end, "the worker stuck"),
    release(N),
    wait_stats(N, fun(S) -> stat(workers_stuck, S) =:= 0 end, "the stuck worker returned"),
    wait_idle(N, S0).

%% --- health ---------------------------------------------------------------------

health_threads(#{node := N} = P) ->
    reset(N),
    ?assertEqual({ok, 1}, fcall(N, <<"sync_echo">>, [1])),
    ?assertMatch({ok, #{healthy := true, threads_available := 1, threads_stuck := 0}}, pycnode:health(N)),
    Id = new_id(),
    ?assertEqual({error, timeout}, call(N, {call, ?FIX, <<"block">>, [Id], #{timeout => ?DEADLINE}})),
    wait_health(N, #{healthy => false, threads_available => 0, threads_stuck => 1, workers_available => 1}),
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertMatch(#{healthy := false, threads_available := 0, threads_stuck := 1}, stats(N)),
    ?assertEqual(1, pycnode_harness:log_count(P, "blocking thread [0-9]+ is stuck: .*not replaced")),
    release(N),
    wait_health(N, #{healthy => true, threads_available => 1, threads_stuck => 0}),
    ?assertEqual({ok, 2}, fcall(N, <<"sync_echo">>, [2])).

%% The only event worker is stuck: release() must come from a blocking
%% thread, through a function already known to be sync.
health_workers(#{node := N}) ->
    reset(N),
    ?assertEqual({ok, ok}, fcall(N, <<"release_sync">>, [false])),
    ?assertMatch({ok, #{healthy := true, workers_available := 1}}, pycnode:health(N)),
    Id = new_id(),
    ?assertEqual({error, timeout}, asgi(N, <<"block_app">>, Id, #{timeout => ?DEADLINE})),
    wait_health(N, #{healthy => false, workers_available => 0, workers_stuck => 1, threads_available => 1}),
    ?assertEqual({ok, ok}, fcall(N, <<"release_sync">>, [true])),
    wait_health(N, #{healthy => true, workers_available => 1, workers_stuck => 0}),
    served(N).

%% --- shutdown --------------------------------------------------------------------

sigterm_stuck() ->
    P = pycnode_harness:start_pycnode("sigterm", #{workers => 1, threads => 1}),
    try
        pycnode_harness:run_logged(P, fun() -> sigterm_stuck(P) end)
    after
        case pycnode_harness:pycnode_status(P) of
            running ->
                pycnode_harness:signal_pycnode(P, "KILL"),
                pycnode_harness:await_exit(P, ?WAIT);
            _ -> ok
        end,
        maps:get(owner, P) ! stop
    end.

sigterm_stuck(#{node := N} = P) ->
    reset(N),
    ?assertEqual({error, timeout}, call(N, {call, ?FIX, <<"block">>, [new_id()], #{timeout => ?DEADLINE}})),
    ?assertEqual({error, timeout}, asgi(N, <<"block_app">>, new_id(), #{timeout => ?DEADLINE})),
    wait_stats(N, fun(S) -> stat(threads_stuck, S) =:= 1 andalso stat(workers_stuck, S) =:= 1 end, "both stuck"),
    pycnode_harness:signal_pycnode(P, "TERM"),
    ?assertEqual({exited, 0}, pycnode_harness:await_exit(P, ?WAIT)),
    ?assertEqual(1, pycnode_harness:log_count(P, "leaving stuck threads behind")).

%% --- helpers ----------------------------------------------------------------------

call(N, Request) ->
    gen_server:call({pycnode, N}, Request, ?TIMEOUT).

fcall(N, Function, Args) ->
    call(N, {call, ?FIX, Function, Args}).

scope(Query) ->
    #{path => <<"/">>, query_string => Query}.

asgi(N, App, Query, Opts) ->
    call(N, {asgi, ?FIX, App, scope(Query), <<>>, Opts}).

reset(N) ->
    ?assertEqual({ok, ok}, fcall(N, <<"reset">>, [])).

release(N) ->
    ?assertEqual({ok, ok}, fcall(N, <<"release">>, [])).

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

%% How many of pycnode's threads have a name starting with Prefix
%% (pythread-N: blocking threads; pyworker-N: event workers).
threads_named(OsPid, Prefix) ->
    Comms = filelib:wildcard("/proc/" ++ integer_to_list(OsPid) ++ "/task/*/comm"),
    length([C || C <- Comms, {ok, Name} <- [file:read_file(C)], lists:prefix(Prefix, binary_to_list(Name))]).

async(Fun) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, catch Fun()} end),
    Ref.

await(Ref) ->
    receive {Ref, Result} -> Result after ?TIMEOUT + 10000 -> {no_answer, Ref} end.

wait_for(Pred, What) ->
    case pycnode_harness:wait_until(Pred, ?WAIT, 20) of
        timeout -> erlang:error({timeout_waiting_for, What});
        _ -> ok
    end.

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

%% Waits until health/1 shows every key of Expected with its value.
wait_health(N, Expected) ->
    Matches = fun() ->
                      {ok, H} = pycnode:health(N),
                      maps:with(maps:keys(Expected), H) =:= Expected
              end,
    case pycnode_harness:wait_until(Matches, ?WAIT, 20) of
        timeout -> ?assertEqual({ok, Expected}, pycnode:health(N));
        _ -> ok
    end.

%% Waits until as many requests are in flight as in the stats S0.
wait_idle(N, S0) ->
    In0 = stat(requests_in_flight, S0),
    wait_stats(N, fun(S) -> stat(requests_in_flight, S) =:= In0 end, {requests_in_flight, In0}).

%% The next requests of every kind are served.
served(N) ->
    ?assertMatch({ok, {200, _, <<"hello">>}}, asgi(N, <<"hello_app">>, <<>>, #{})),
    ?assertEqual({ok, x}, fcall(N, <<"sync_echo">>, [x])).
