%% Object handles: results kept in Python (`result => handle'), their
%% methods and attributes, passed back as arguments, released explicitly or
%% when their owner process (or its node) goes.
-module(pycnode_handles_tests).

-include_lib("eunit/include/eunit.hrl").

-export([hold_handles/3]).

-define(FIX, pyc_handles).

handles_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("handles", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"a handle: methods, attributes, passed back as an argument", fun use/1},
                 {"handles from async functions and methods, and of results with no term", fun kinds/1},
                 {"release: the object goes, later use is bad_handle", fun release/1},
                 {"the owner exits: its handles go", fun owner_exits/1},
                 {"the owner's node disconnects: its handles go", fun node_goes/1},
                 {"an owner already gone when its monitor arrives", fun dead_owner/1},
                 {"many processes make, share and release handles at once", fun concurrent/1},
                 {"bad handles and bad options", fun bad_handles/1}
             ], 60)
     end}.

use(#{node := N}) ->
    {ok, H} = pycnode:call(N, ?FIX, make_counter, [5], #{result => handle}),
    ?assert(pycnode:is_handle(H)),
    ?assertEqual({ok, 6}, pycnode:call_method(H, incr, [])),
    ?assertEqual({ok, 10}, pycnode:call_method(H, <<"incr">>, [], #{kwargs => #{by => 4}})),
    ?assertEqual({ok, 10}, pycnode:getattr(H, value)),
    ?assertEqual({ok, <<"counter">>}, pycnode:getattr(H, label)),
    %% As an argument, Python gets the object itself, not a copy.
    ?assertEqual({ok, 10}, pycnode:call(N, ?FIX, value_of, [H])),
    ?assertEqual({ok, true}, pycnode:call_method(H, same, [H])),
    ?assertEqual({ok, true}, pycnode:call(N, operator, is_, [H, H])),
    %% Inside containers too.
    ?assertEqual({ok, [10, 10]}, pycnode:call(N, ?FIX, values_of, [[H, #{k => H}]])),
    %% A method or attribute Python does not have is Python's error.
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, pycnode:getattr(H, missing)),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, pycnode:call_method(H, missing, [])),
    %% Without a timeout the call runs in this process, its owner all the same.
    {ok, H2} = pycnode:call(N, ?FIX, make_counter, [1], #{result => handle, timeout => infinity}),
    ?assertEqual({ok, 1}, pycnode:getattr(H2, value, #{timeout => infinity})),
    %% The wire form (docs/protocol.md).
    ?assertEqual({ok, 11}, gen_server:call({pycnode, N}, {call_method, H, <<"incr">>, [1]})),
    ?assertEqual({ok, 11}, gen_server:call({pycnode, N}, {getattr, H, <<"value">>})),
    ok = pycnode:release(H),
    ok = pycnode:release(H2).

kinds(#{node := N}) ->
    {ok, A} = pycnode:call(N, ?FIX, async_make_counter, [3], #{result => handle}),
    ?assertEqual({ok, 5}, pycnode:call_method(A, async_incr, [2])),
    {ok, Child} = pycnode:call_method(A, child, [], #{result => handle}),
    ?assertEqual({ok, 50}, pycnode:getattr(Child, value)),
    {ok, Value} = pycnode:getattr(Child, value, #{result => handle}),
    ?assertEqual({ok, 51}, pycnode:call(N, operator, add, [Value, 1])),
    %% A result with no Erlang equivalent stays an error unless asked for as a handle.
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, make_set, [])),
    {ok, Set} = pycnode:call(N, ?FIX, make_set, [], #{result => handle}),
    ?assertEqual({ok, 3}, pycnode:call(N, builtins, len, [Set])),
    ?assertEqual({ok, [1, 2, 3]}, pycnode:call(N, builtins, sorted, [Set])),
    [ok = pycnode:release(X) || X <- [A, Child, Value, Set]].

release(#{node := N}) ->
    Live = live(N),
    Alive = alive(N),
    {ok, H} = pycnode:call(N, ?FIX, make_counter, [], #{result => handle}),
    ?assertEqual(Live + 1, live(N)),
    ?assertEqual(Alive + 1, alive(N)),
    ?assertEqual(ok, pycnode:release(H)),
    ?assertEqual(Live, live(N)),
    ?assertEqual(Alive, alive(N)),
    ?assertMatch({error, {bad_handle, _}}, pycnode:release(H)),
    ?assertMatch({error, {bad_handle, _}}, pycnode:call_method(H, incr, [])),
    ?assertMatch({error, {bad_handle, _}}, pycnode:getattr(H, value)),
    {error, {bad_handle, Detail}} = pycnode:call(N, ?FIX, value_of, [H]),
    ?assertMatch({match, _}, re:run(Detail, "argument 1: not a live handle")),
    {error, {bad_handle, KwDetail}} = pycnode:call(N, ?FIX, make_counter, [], #{kwargs => #{start => H}}),
    ?assertMatch({match, _}, re:run(KwDetail, "keyword argument start")).

owner_exits(#{node := N}) ->
    Live = live(N),
    Alive = alive(N),
    Owner = spawn(?MODULE, hold_handles, [N, 2, self()]),
    [H1, _] = receive {handles, Owner, Hs} -> Hs after 10000 -> error(no_handles) end,
    ?assertEqual(Live + 2, live(N)),
    %% Another process may use them: they live as long as their owner.
    ?assertEqual({ok, 1}, pycnode:call_method(H1, incr, [])),
    exit(Owner, kill),
    ?assertEqual(true, pycnode_harness:wait_until(fun() -> live(N) =:= Live end, 10000, 20)),
    ?assertMatch({error, {bad_handle, _}}, pycnode:call_method(H1, incr, [])),
    %% The objects themselves are let go (by the next worker to run Python).
    ?assertEqual(true, pycnode_harness:wait_until(fun() -> alive(N) =:= Alive end, 10000, 20)).

node_goes(#{node := N}) ->
    Live = live(N),
    Peer = pycnode_harness:start_peer("handles", #{}),
    try
        PeerNode = maps:get(node, Peer),
        Owner = erpc:call(PeerNode, erlang, spawn, [?MODULE, hold_handles, [N, 3, self()]]),
        receive {handles, Owner, _} -> ok after 10000 -> error(no_handles) end,
        ?assertEqual(Live + 3, live(N))
    after
        pycnode_harness:kill_peer(Peer)
    end,
    ?assertEqual(true, pycnode_harness:wait_until(fun() -> live(N) =:= Live end, 10000, 20)).

dead_owner(#{node := N}) ->
    Live = live(N),
    {Dead, Mon} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Mon, process, Dead, _} -> ok end,
    %% The monitor is answered noproc: the handle goes as for an owner that exits.
    {ok, H} = gen_server:call({pycnode, N}, {call, <<"pyc_handles">>, <<"make_counter">>, [],
                                             #{result => handle, owner => Dead}}),
    ?assertEqual(true, pycnode_harness:wait_until(fun() -> live(N) =:= Live end, 10000, 20)),
    ?assertMatch({error, {bad_handle, _}}, pycnode:getattr(H, value)).

concurrent(#{node := N}) ->
    Live = live(N),
    {ok, Shared} = pycnode:call(N, ?FIX, make_counter, [0], #{result => handle}),
    Self = self(),
    Rounds = 20,
    Pids = [spawn_link(fun() ->
                               [begin
                                    {ok, H} = pycnode:call(N, ?FIX, make_counter, [I], #{result => handle}),
                                    {ok, _} = pycnode:call_method(Shared, incr, []),
                                    {ok, true} = pycnode:call_method(H, same, [H]),
                                    ok = pycnode:release(H)
                                end || I <- lists:seq(1, Rounds)],
                               Self ! {done, self()}
                       end) || _ <- lists:seq(1, 8)],
    [receive {done, P} -> ok after 60000 -> error(timeout) end || P <- Pids],
    ?assertEqual({ok, 8 * Rounds}, pycnode:getattr(Shared, value)),
    ok = pycnode:release(Shared),
    ?assertEqual(Live, live(N)).

bad_handles(#{node := N}) ->
    %% A reference pycnode did not make (here: this node's), or not a reference.
    Forged = {'$pycnode_handle', make_ref()},
    ?assertMatch({error, {bad_handle, _}}, gen_server:call({pycnode, N}, {call_method, Forged, <<"x">>, []})),
    ?assertMatch({error, {bad_handle, _}}, gen_server:call({pycnode, N}, {getattr, Forged, <<"x">>})),
    ?assertMatch({error, {bad_handle, _}}, gen_server:call({pycnode, N}, {release, Forged})),
    ?assertMatch({error, {bad_handle, _}}, pycnode:call(N, ?FIX, value_of, [Forged])),
    ?assertMatch({error, {bad_handle, _}},
                 gen_server:call({pycnode, N}, {release, {'$pycnode_handle', not_a_ref}})),
    ?assertMatch({error, {bad_request, _}}, gen_server:call({pycnode, N}, {release, not_a_handle})),
    ?assertEqual({error, {badarg, handle}}, pycnode:release(not_a_handle)),
    ?assertNot(pycnode:is_handle({'$pycnode_handle', 1})),
    %% Options.
    Bad = fun(Opts) ->
                  {error, {bad_request, D}} =
                      gen_server:call({pycnode, N}, {call, <<"pyc_handles">>, <<"make_counter">>, [], Opts}),
                  D
          end,
    ?assertMatch({match, _}, re:run(Bad(#{result => object}), "option result takes handle or term")),
    ?assertMatch({match, _}, re:run(Bad(#{result => handle, owner => self}), "option owner takes a pid")).

%% On the owner's node: makes Count handles, sends them to ReplyTo, and
%% keeps them until killed.
hold_handles(N, Count, ReplyTo) ->
    Hs = [begin {ok, H} = pycnode:call(N, ?FIX, make_counter, [0], #{result => handle}), H end
          || _ <- lists:seq(1, Count)],
    ReplyTo ! {handles, self(), Hs},
    receive stop -> ok end.

live(N) ->
    {ok, #{handles_live := Live}} = pycnode:stats(N),
    Live.

alive(N) ->
    {ok, Alive} = pycnode:call(N, ?FIX, counters_alive, []),
    Alive.
