%% pycnode's limits, as docs/protocol.md describes them: a full job queue
%% answers {error, overloaded}, an oversize request packet answers
%% {error, {packet_too_large, Size, Max}}, and neither costs the connection.
-module(pycnode_limits_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, pyc_fixtures).
-define(QUEUE_LIMIT, 2).
-define(MAX_PACKET, 100000).

limits_test_() ->
    {setup,
     fun() ->
             pycnode_harness:start_pycnode("limits", #{workers => 1,
                 args => ["--queue-limit", integer_to_list(?QUEUE_LIMIT),
                          "--max-packet", integer_to_list(?MAX_PACKET)]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"a full queue answers overloaded", fun overloaded/1},
                 {"an oversize request answers packet_too_large", fun packet_too_large/1}
             ])
     end}.

%% One worker busy for 1 s, then five more requests: the first
%% ?QUEUE_LIMIT wait for it, the others are refused at once.
overloaded(#{node := N}) ->
    {ok, S0} = pycnode:stats(N),
    Server = {pycnode, N},
    Busy = gen_server:send_request(Server, {call, <<"pyc_fixtures">>, <<"slow">>, [1000]}),
    timer:sleep(200),
    More = [gen_server:send_request(Server, {call, <<"pyc_fixtures">>, <<"add">>, [I, 1]})
            || I <- lists:seq(1, 5)],
    Replies = [gen_server:receive_response(R, 5000) || R <- More],
    ?assertEqual([{reply, {ok, 2}}, {reply, {ok, 3}},
                  {reply, {error, overloaded}}, {reply, {error, overloaded}}, {reply, {error, overloaded}}],
                 Replies),
    ?assertEqual({reply, {ok, 1000}}, gen_server:receive_response(Busy, 5000)),
    {ok, S1} = pycnode:stats(N),
    ?assertEqual(maps:get(requests_overloaded, S0) + 3, maps:get(requests_overloaded, S1)),
    ?assertEqual(0, maps:get(queue_length, S1)),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

packet_too_large(#{node := N}) ->
    ?assertEqual(true, erlang:monitor_node(N, true)),
    Small = binary:copy(<<"s">>, ?MAX_PACKET div 2),
    ?assertEqual({ok, Small}, pycnode:call(N, ?FIX, echo, [Small])),
    Big = binary:copy(<<"b">>, 2 * ?MAX_PACKET),
    {error, {packet_too_large, Size, Max}} = pycnode:call(N, ?FIX, echo, [Big]),
    ?assertEqual(?MAX_PACKET, Max),
    ?assert(Size > 2 * ?MAX_PACKET),
    %% Replies are not limited: only what pycnode must buffer to read.
    ?assertEqual({ok, 3 * ?MAX_PACKET}, size_of(pycnode:call(N, ?FIX, big_binary, [3 * ?MAX_PACKET]))),
    %% Several in a row, mixed with normal calls, on the same connection.
    [?assertMatch({error, {packet_too_large, _, ?MAX_PACKET}}, pycnode:call(N, ?FIX, echo, [Big]))
     || _ <- lists:seq(1, 3)],
    ?assertEqual({ok, Small}, pycnode:call(N, ?FIX, echo, [Small])),
    ?assertEqual(nothing, receive {nodedown, N} -> nodedown after 100 -> nothing end),
    erlang:monitor_node(N, false),
    ?assertEqual(pong, pycnode:ping(N)).

size_of({ok, Bin}) when is_binary(Bin) -> {ok, byte_size(Bin)};
size_of(Other) -> Other.
