%% Many callers at once: two Erlang peer nodes, each with 500 processes
%% calling one pycnode through the client at the same moment.
-module(pycnode_load_tests).

-include_lib("eunit/include/eunit.hrl").

-define(CALLS_PER_PEER, 500).

concurrent_peers_test_() ->
    {setup,
     fun() ->
             P = pycnode_harness:start_pycnode("load", #{workers => 4}),
             Peers = [pycnode_harness:start_peer("load" ++ integer_to_list(I), #{}) || I <- [1, 2]],
             {P, Peers}
     end,
     fun({P, Peers}) ->
             [pycnode_harness:stop_peer(H) || H <- Peers],
             pycnode_harness:stop_pycnode(P)
     end,
     fun({P, Peers}) ->
             pycnode_harness:tests(P, [
                 {"2 peers x 500 concurrent calls, every answer checked",
                  fun(_) -> two_peers(P, Peers) end}
             ], 120)
     end}.

two_peers(#{node := N}, Peers) ->
    {ok, S0} = pycnode:stats(N),
    Self = self(),
    Indexed = lists:zip(lists:seq(1, length(Peers)), Peers),
    [spawn_link(fun() ->
                        R = pycnode_harness:peer_call(H, pycnode_harness, burst,
                                                      [N, I, ?CALLS_PER_PEER], 100000),
                        Self ! {burst_done, I, R}
                end) || {I, H} <- Indexed],
    Results = [receive {burst_done, I, R} -> {I, R} after 110000 -> {I, no_result} end
               || {I, _} <- Indexed],
    [?assertEqual({I, {?CALLS_PER_PEER, []}}, {I, R}) || {I, R} <- Results],
    {ok, S1} = pycnode:stats(N),
    ?assert(maps:get(requests_served, S1) >= maps:get(requests_served, S0) + 2 * ?CALLS_PER_PEER),
    ?assertEqual(maps:get(requests_failed, S0), maps:get(requests_failed, S1)),
    PeerNodes = [maps:get(node, H) || H <- Peers],
    ?assertEqual([], PeerNodes -- maps:get(peers, S1)),
    ?assert(maps:get(connected_peers, S1) >= 3).
