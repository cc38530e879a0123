%% Who reads the sockets (docs/design.md, "Who reads"): an idle event worker
%% holds the loop's lease and runs what it reads itself; when it then stays
%% busy in Python, the loop thread takes over reading, and the worker takes
%% the lease back when it is idle again. With --no-worker-reads the loop
%% thread reads everything.
%%
%% The only event worker is blocked inside an ASGI app until a sync call,
%% which a blocking thread runs, releases it: that call, and a ping, can only
%% be answered if someone else reads while the worker is blocked.
-module(pycnode_worker_reads_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"deadline_fixtures">>).
-define(TIMEOUT, 30000).  % bounds a call that fails to answer

worker_reads_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("reads", #{workers => 1, threads => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"a worker blocked after reading: the loop thread reads in its place", fun blocked_reader/1},
                 {"many rounds: the lease goes back and forth, nothing lost", fun rounds/1}
             ], 120)
     end}.

loop_reads_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("loopreads", #{workers => 1, threads => 2,
                                                           args => ["--no-worker-reads"]}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"--no-worker-reads: the loop thread reads; it never has to take over", fun loop_reads/1}
             ], 120)
     end}.

blocked_reader(#{node := N}) ->
    prepare(N),
    Before = takeovers(N),
    Blocked = block_worker(N),
    %% Only a reader other than the blocked worker can answer these.
    ?assertEqual(pong, gen_server:call({pycnode, N}, ping, ?TIMEOUT)),
    ?assertEqual(nothing, peek(Blocked)),
    ?assert(takeovers(N) > Before),
    release(N),
    ?assertMatch({ok, {200, _, <<"released">>}}, await(Blocked)),
    %% Served on: the worker runs requests again.
    ?assertMatch({ok, {200, _, <<"released">>}}, block_and_release(N)).

rounds(#{node := N}) ->
    prepare(N),
    Results = [block_and_release(N) || _ <- lists:seq(1, 20)],
    ?assertEqual(lists:duplicate(20, ok), [element(1, R) || R <- Results]),
    %% And plain requests in between, many at once.
    Callers = [async(fun() -> gen_server:call({pycnode, N}, {call, ?FIX, <<"sync_echo">>, [I]}, ?TIMEOUT) end)
               || I <- lists:seq(1, 200)],
    ?assertEqual([{ok, I} || I <- lists:seq(1, 200)], [await(C) || C <- Callers]).

loop_reads(#{node := N}) ->
    prepare(N),
    Blocked = block_worker(N),
    ?assertEqual(pong, gen_server:call({pycnode, N}, ping, ?TIMEOUT)),
    release(N),
    ?assertMatch({ok, {200, _, <<"released">>}}, await(Blocked)),
    ?assertEqual(0, takeovers(N)).

%% --- helpers ------------------------------------------------------------------

%% release_sync and flags_sync run on a blocking thread from now on (their
%% routes are known), so they answer while the event worker is blocked.
prepare(N) ->
    ?assertEqual({ok, ok}, gen_server:call({pycnode, N}, {call, ?FIX, <<"reset">>, []}, ?TIMEOUT)),
    ?assertEqual({ok, ok}, gen_server:call({pycnode, N}, {call, ?FIX, <<"release_sync">>, [false]}, ?TIMEOUT)),
    ?assertEqual({ok, []}, gen_server:call({pycnode, N}, {call, ?FIX, <<"flags_sync">>, [<<"none">>]}, ?TIMEOUT)).

%% An ASGI request that blocks the only event worker in C until release().
block_worker(N) ->
    Id = integer_to_binary(erlang:unique_integer([positive])),
    Blocked = async(fun() ->
        gen_server:call({pycnode, N}, {asgi, ?FIX, <<"block_app">>, #{path => <<"/">>, query_string => Id},
                                       <<>>, #{timeout => ?TIMEOUT}}, ?TIMEOUT)
    end),
    wait_started(N, Id),
    Blocked.

block_and_release(N) ->
    Blocked = block_worker(N),
    release(N),
    R = await(Blocked),
    ?assertEqual({ok, ok}, gen_server:call({pycnode, N}, {call, ?FIX, <<"reset">>, []}, ?TIMEOUT)),
    R.

%% flags/1 is async (it would wait for the blocked worker): read them from a
%% blocking thread instead.
wait_started(N, Id) ->
    Started = fun() ->
        {ok, Flags} = gen_server:call({pycnode, N}, {call, ?FIX, <<"flags_sync">>, [Id]}, ?TIMEOUT),
        lists:member(started, Flags)
    end,
    ?assertNotEqual(timeout, pycnode_harness:wait_until(Started, 15000, 5)).

release(N) ->
    ?assertEqual({ok, ok}, gen_server:call({pycnode, N}, {call, ?FIX, <<"release_sync">>, [true]}, ?TIMEOUT)).

takeovers(N) ->
    {ok, S} = gen_server:call({pycnode, N}, stats, ?TIMEOUT),
    maps:get(loop_takeovers, S).

async(Fun) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, catch Fun()} end),
    Ref.

await(Ref) ->
    receive {Ref, Result} -> Result after ?TIMEOUT + 10000 -> {no_answer, Ref} end.

peek(Ref) ->
    receive {Ref, Result} -> {answered, Result} after 0 -> nothing end.
