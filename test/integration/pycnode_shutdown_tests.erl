%% Graceful shutdown: on SIGTERM/SIGINT pycnode refuses new connections and
%% new requests, answers the requests in flight, then exits; past the drain
%% deadline, or on a second signal, it exits without waiting for them.
-module(pycnode_shutdown_tests).

-include_lib("eunit/include/eunit.hrl").

-import(pycnode_harness, [start_pycnode/2, signal_pycnode/2, await_exit/2, pycnode_status/1, wait_until/3,
                          log_count/2]).

-define(FIX, pyc_fixtures).

shutdown_test_() ->
    [{"SIGTERM with 20 calls of 1 s in flight: all 20 answered, new ones refused, then exit 0",
      {timeout, 60, fun() -> with_pycnode("drain", [], fun drains/1) end}},
     {"SIGINT drains the same way",
      {timeout, 60, fun() -> with_pycnode("drainint", [], fun(P) -> drains_on(P, "INT") end) end}},
     {"past the drain deadline: the calls still running get an error at once, exit 1",
      {timeout, 60, fun() -> with_pycnode("deadline", ["--drain-timeout", "500"], fun deadline/1) end}},
     {"a second signal exits at once",
      {timeout, 60, fun() -> with_pycnode("twice", [], fun second_signal/1) end}}].

drains(P) -> drains_on(P, "TERM").

drains_on(#{node := N} = P, Signal) ->
    Callers = start_calls(N, 20, 1000),
    ?assertEqual(true, wait_until(fun() -> in_flight(N) >= 20 end, 5000, 10)),
    signal_pycnode(P, Signal),
    ?assertEqual(true, wait_until(fun() -> log_count(P, "requests in flight get up to") >= 1 end, 5000, 10)),
    %% While it drains: new requests are refused, the cheap ones answered,
    %% and new connections are not accepted.
    ?assertEqual({error, shutting_down}, pycnode:call(N, ?FIX, add, [1, 2])),
    ?assertEqual(pong, pycnode:ping(N)),
    {ok, Stats} = pycnode:stats(N),
    ?assertEqual(true, maps:get(shutting_down, Stats)),
    ?assertMatch({error, _}, gen_tcp:connect(pycnode_harness:host(), pycnode_harness:listen_port(P),
                                             [binary, {active, false}], 2000)),
    Replies = collect(Callers, 15000),
    ?assertEqual(lists:duplicate(20, {ok, 1000}), Replies),
    ?assertEqual({exited, 0}, await_exit(P, 10000)).

deadline(#{node := N} = P) ->
    Callers = start_calls(N, 3, 20000),
    ?assertEqual(true, wait_until(fun() -> in_flight(N) >= 3 end, 5000, 10)),
    T0 = erlang:monotonic_time(millisecond),
    signal_pycnode(P, "TERM"),
    Replies = collect(Callers, 15000),
    Elapsed = erlang:monotonic_time(millisecond) - T0,
    %% Each caller learns at once that its node went away, long before the
    %% calls (20 s) or their timeout (30 s) would end.
    ?assertEqual(lists:duplicate(3, {error, {nodedown, N}}), Replies),
    ?assert(Elapsed < 15000),
    ?assertEqual({exited, 1}, await_exit(P, 10000)),
    ?assert(log_count(P, "drain deadline passed with 3 requests unanswered") >= 1).

second_signal(#{node := N} = P) ->
    Callers = start_calls(N, 2, 20000),
    ?assertEqual(true, wait_until(fun() -> in_flight(N) >= 2 end, 5000, 10)),
    signal_pycnode(P, "TERM"),
    ?assertEqual(true, wait_until(fun() -> log_count(P, "requests in flight get up to") >= 1 end, 5000, 10)),
    signal_pycnode(P, "TERM"),
    ?assertEqual({exited, 1}, await_exit(P, 10000)),
    ?assertEqual(lists:duplicate(2, {error, {nodedown, N}}), collect(Callers, 15000)),
    ?assert(log_count(P, "again: exiting now") >= 1).

%% --- helpers -----------------------------------------------------------------

with_pycnode(Label, Args, Fun) ->
    P = start_pycnode(Label, #{workers => 2, threads => 24, args => Args}),
    try
        pycnode_harness:run_logged(P, fun() -> Fun(P) end)
    after
        case pycnode_status(P) of
            running -> signal_pycnode(P, "KILL"), await_exit(P, 10000);
            _ -> ok
        end,
        maps:get(owner, P) ! stop
    end.

%% Count sync calls of Ms each, every one from its own process.
start_calls(N, Count, Ms) ->
    Self = self(),
    [spawn_link(fun() -> Self ! {self(), pycnode:call(N, ?FIX, slow, [Ms], #{timeout => 30000})} end)
     || _ <- lists:seq(1, Count)].

collect(Pids, Timeout) ->
    [receive {Pid, Reply} -> Reply after Timeout -> no_reply end || Pid <- Pids].

in_flight(N) ->
    {ok, S} = pycnode:stats(N),
    maps:get(requests_in_flight, S).
