%% The distribution side: ticks on an idle connection, a wrong cookie,
%% callers that vanish with calls in flight, garbage on the listen port,
%% and stopping on signals. Handshakes under load: pycnode_handshake_tests.
-module(pycnode_dist_tests).

-include_lib("eunit/include/eunit.hrl").

-import(pycnode_harness, [start_pycnode/2, stop_pycnode/1, start_peer/2, stop_peer/1,
                          peer_call/5, wait_until/3, log_count/2]).

-define(FIX, pyc_fixtures).
-define(TICKTIME, 2).
%% A refused handshake in pycnode's log (not one that only timed out).
-define(REFUSED, "refused(?!.*timed out)").

%% --- net_ticktime ------------------------------------------------------------

ticks_test_() ->
    {setup,
     fun() ->
             start_pycnode("ticks", #{workers => 2,
                                      args => ["--net-ticktime", integer_to_list(?TICKTIME)]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"an idle connection stays up for 3.5 x net_ticktime", fun idle_connection/1},
                 {"a peer that stops ticking is dropped", fun silent_peer/1}
             ], 40)
     end}.

%% The peer uses the same short ticktime and no distribution connection to
%% this node (whose ticktime is the default), so the only connection that
%% can tick or time out is the one between the peer and pycnode.
tick_peer(Label) ->
    start_peer(Label, #{connection => standard_io,
                        args => ["-kernel", "net_ticktime", integer_to_list(?TICKTIME)]}).

idle_connection(#{node := N}) ->
    H = tick_peer("idle"),
    try
        Term = {idle, <<"still here">>, [1, 2, 3]},
        R = peer_call(H, pycnode_harness, idle_connection, [N, 7000, Term], 20000),
        ?assertEqual(?TICKTIME, maps:get(ticktime, R)),
        ?assertEqual(pong, maps:get(ping, R)),
        ?assertEqual({ok, Term}, maps:get(before, R)),
        ?assertEqual([], maps:get(events, R)),
        ?assertNotEqual(not_connected, maps:get(id_before, R)),
        ?assertEqual(maps:get(id_before, R), maps:get(id_after, R)),
        ?assertEqual({ok, Term}, maps:get('after', R))
    after
        stop_peer(H)
    end.

%% A stopped (SIGSTOP) peer keeps its socket open but sends nothing: like an
%% Erlang node, pycnode must give up on it after about net_ticktime.
silent_peer(#{node := N}) ->
    H = tick_peer("silent"),
    PeerNode = maps:get(node, H),
    try
        ?assertEqual(pong, peer_call(H, net_adm, ping, [N], 10000)),
        ?assert(lists:member(PeerNode, peers_of(N))),
        _ = os:cmd("kill -STOP " ++ integer_to_list(maps:get(os_pid, H))),
        Gone = wait_until(fun() -> not lists:member(PeerNode, peers_of(N)) end,
                          4 * ?TICKTIME * 1000, 200),
        _ = os:cmd("kill -CONT " ++ integer_to_list(maps:get(os_pid, H))),
        ?assertEqual({PeerNode, true}, {PeerNode, Gone})
    after
        _ = os:cmd("kill -CONT " ++ integer_to_list(maps:get(os_pid, H))),
        stop_peer(H)
    end.

%% --- cookies, vanishing callers, garbage ---------------------------------------

dist_test_() ->
    {setup,
     fun() ->
             %% Enough workers for 20 slow calls with some to spare, and a
             %% short handshake bound so that garbage is dropped quickly.
             start_pycnode("dist", #{workers => 24, args => ["--handshake-timeout", "1000"]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"a wrong cookie is refused, good nodes keep working", fun wrong_cookie/1},
                 {"a caller node killed with 20 calls in flight", fun caller_killed/1},
                 {"a caller node that disconnects with calls in flight, then reconnects",
                  fun caller_disconnects/1},
                 {"garbage on the listen port is refused", fun garbage/1},
                {"a peer presenting a name that is not a node name is refused", fun bad_node_names/1},
                {"a flood of malformed packets costs a few log lines a second", fun log_flood/1}
             ], 60)
     end}.

wrong_cookie(#{node := N} = P) ->
    assert_serving(N),
    Refused0 = log_count(P, ?REFUSED),
    Bad = start_peer("badcookie", #{cookie => "not_the_cookie", connection => standard_io}),
    try
        Self = self(),
        Loop = spawn_link(fun() -> Self ! {during, serve_loop(N, 0)} end),
        Pings = [peer_call(Bad, net_adm, ping, [N], 15000) || _ <- lists:seq(1, 3)],
        Loop ! stop,
        During = receive {during, D} -> D after 10000 -> no_answer end,
        ?assertEqual([pang, pang, pang], Pings),
        ?assertMatch({ok, Rounds} when Rounds > 0, During),
        ?assertNot(lists:member(maps:get(node, Bad), peers_of(N))),
        ?assertEqual(true, wait_until(fun() -> log_count(P, ?REFUSED) > Refused0 end, 3000, 50))
    after
        stop_peer(Bad)
    end,
    assert_serving(N).

%% Pings and calls until told to stop: {ok, Rounds} or the first failure.
serve_loop(N, Rounds) ->
    receive stop -> {ok, Rounds}
    after 0 ->
            case {pycnode:ping(N), pycnode:call(N, ?FIX, add, [Rounds, 1])} of
                {pong, {ok, R}} when R =:= Rounds + 1 -> serve_loop(N, Rounds + 1);
                Other -> {failed, Rounds, Other}
            end
    end.

caller_killed(#{node := N}) ->
    {ok, S0} = pycnode:stats(N),
    H = start_peer("killed", #{}),
    PeerNode = maps:get(node, H),
    try
        ok = peer_call(H, pycnode_harness, calls_in_flight, [N, 20, 2000], 10000),
        ?assertEqual(true, wait_until(fun() -> in_flight(N) >= 20 end, 3000, 20))
    after
        pycnode_harness:kill_peer(H)
    end,
    %% Right after: other callers are served, stats answer.
    ?assertEqual(pong, pycnode:ping(N, #{timeout => 1000})),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2], #{timeout => 1000})),
    ?assertMatch({ok, _}, pycnode:stats(N, #{timeout => 1000})),
    ?assertEqual(true, wait_until(fun() -> not lists:member(PeerNode, peers_of(N)) end, 5000, 50)),
    %% The 20 calls are cancelled: their caller's node is gone
    %% (docs/protocol.md: requests_cancelled).
    ?assertEqual(true, wait_until(fun() -> in_flight(N) =:= 0 end, 6000, 50)),
    {ok, S1} = pycnode:stats(N),
    ?assert(maps:get(requests_cancelled, S1) >= maps:get(requests_cancelled, S0) + 20),
    ?assertEqual(0, maps:get(queue_length, S1)),
    assert_serving(N).

caller_disconnects(#{node := N}) ->
    H = start_peer("disconnects", #{}),
    PeerNode = maps:get(node, H),
    try
        ok = peer_call(H, pycnode_harness, calls_in_flight, [N, 20, 2000], 10000),
        ?assertEqual(true, wait_until(fun() -> in_flight(N) >= 20 end, 3000, 20)),
        ?assertEqual(true, peer_call(H, erlang, disconnect_node, [N], 5000)),
        ?assertEqual(pong, pycnode:ping(N, #{timeout => 1000})),
        ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2], #{timeout => 1000})),
        ?assertEqual(true, wait_until(fun() -> not lists:member(PeerNode, peers_of(N)) end, 5000, 50)),
        %% The same node comes back while its old calls are still running.
        ?assertEqual({ok, 7}, peer_call(H, pycnode, call, [N, ?FIX, add, [3, 4]], 5000)),
        ?assert(lists:member(PeerNode, peers_of(N))),
        ?assertEqual(true, wait_until(fun() -> in_flight(N) =:= 0 end, 6000, 50)),
        ?assertEqual({ok, 9}, peer_call(H, pycnode, call, [N, ?FIX, add, [4, 5]], 5000))
    after
        stop_peer(H)
    end,
    assert_serving(N).

garbage(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    Refused0 = log_count(P, ?REFUSED),
    rand:seed(exsss, {1, 2, 3}),
    Payloads = [{"4 KiB of random bytes", rand:bytes(4096)},
                {"a zero-length handshake packet", <<0, 0>>},
                {"an HTTP request", <<"GET / HTTP/1.1\r\nHost: pycnode\r\n\r\n">>},
                {"a 64 KiB length and a few bytes", <<16#FF, 16#FF, "N", 0, 0, 0>>},
                {"send_name from a bogus node", send_name(<<"bogus@nowhere">>)},
                {"send_name then garbage", <<(send_name(<<"x@y">>))/binary, (rand:bytes(64))/binary>>}],
    [begin
         {ok, S} = gen_tcp:connect(Host, Port, [binary, {active, false}], 2000),
         ok = gen_tcp:send(S, Bytes),
         %% Refused: pycnode closes the socket, within its handshake bound.
         Closed = recv_until_closed(S, erlang:monotonic_time(millisecond) + 5000),
         gen_tcp:close(S),
         ?assertEqual({Label, closed}, {Label, Closed}),
         assert_serving(N)
     end || {Label, Bytes} <- Payloads],
    %% Writers that do not wait for the answer.
    [begin
         {ok, S} = gen_tcp:connect(Host, Port, [binary, {active, false}], 2000),
         _ = gen_tcp:send(S, rand:bytes(Size)),
         gen_tcp:close(S)
     end || Size <- [1, 2, 3, 100, 1000, 100000]],
    assert_serving(N),
    ?assert(log_count(P, ?REFUSED) > Refused0),
    %% New nodes still get in.
    H = start_peer("aftergarbage", #{}),
    try
        ?assertEqual({ok, 3}, peer_call(H, pycnode, call, [N, ?FIX, add, [1, 2]], 15000))
    after
        stop_peer(H)
    end,
    assert_serving(N).

recv_until_closed(S, Deadline) ->
    Left = Deadline - erlang:monotonic_time(millisecond),
    case Left > 0 andalso gen_tcp:recv(S, 0, Left) of
        false -> timeout;
        {ok, _Data} -> recv_until_closed(S, Deadline);
        {error, closed} -> closed;
        {error, econnreset} -> closed;
        {error, timeout} -> timeout;
        {error, Other} -> {error, Other}
    end.

%% A whole handshake by hand (the OTP 23 form, as a hidden node), presenting
%% names no Erlang node would: pycnode must close the connection, and keep
%% such names out of stats. A good name stays connected.
bad_node_names(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    Refused0 = log_count(P, "is not a node name"),
    ?assertEqual(open, handshake_as(Host, Port, <<"good_", (integer_to_binary(Port))/binary, "@", "h">>)),
    Bad = [<<"no_at_sign">>, <<"@host">>, <<"alive@">>, <<"a@b@c">>, <<"b", 16#ff, "d@host">>,
           <<"overlong", 16#c0, 16#af, "@host">>, <<(binary:copy(<<"a">>, 250))/binary, "@hosts">>],
    [?assertEqual({Name, closed}, {Name, handshake_as(Host, Port, Name)}) || Name <- Bad],
    %% The log reaches the harness asynchronously: wait for the lines.
    ?assertEqual(true, wait_until(fun() -> log_count(P, "is not a node name") >= Refused0 + length(Bad) end,
                                  5000, 50)),
    {ok, Stats} = pycnode:stats(N),
    [?assert(is_atom(Peer)) || Peer <- maps:get(peers, Stats)],
    assert_serving(N).

%% 5,000 malformed packets in a burst: the log keeps its per-line budget
%% (20 a second) and later says how many lines it left out.
log_flood(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    Before = log_count(P, "malformed packet"),
    {ok, S} = pycnode_handshake_tests:connect_as(Host, Port, <<"flood_", (integer_to_binary(Port))/binary, "@h">>),
    try
        [ok = gen_tcp:send(S, <<"p", 131, 255, I:32>>) || I <- lists:seq(1, 5000)],
        assert_serving(N),
        timer:sleep(1100),
        ok = gen_tcp:send(S, <<"p", 131, 255>>),
        ?assertEqual(true, wait_until(fun() -> log_count(P, "malformed packet.*similar lines left out") >= 1 end,
                                      5000, 50)),
        ?assert(log_count(P, "malformed packet") - Before =< 80)
    after
        gen_tcp:close(S)
    end,
    assert_serving(N).

handshake_as(Host, Port, Name) ->
    {ok, S} = gen_tcp:connect(Host, Port, [binary, {active, false}, {packet, 2}], 2000),
    try
        ok = gen_tcp:send(S, pycnode_handshake_tests:send_name_23(Name)),
        %% A refused name may be closed at any step.
        case gen_tcp:recv(S, 0, 5000) of
            {ok, <<"sok", _/binary>>} ->
                {ok, <<"N", _PeerFlags:64, Challenge:32, _/binary>>} = gen_tcp:recv(S, 0, 5000),
                Digest = erlang:md5([pycnode_harness:cookie(), integer_to_list(Challenge)]),
                ok = gen_tcp:send(S, <<"r", 42:32, Digest/binary>>),
                {ok, <<"a", _/binary>>} = gen_tcp:recv(S, 0, 5000),
                %% Handshake done: an accepted peer is left open (nothing
                %% arrives within the second), a refused one is closed at once.
                case gen_tcp:recv(S, 0, 1000) of
                    {error, timeout} -> open;
                    {ok, _Tick} -> open;
                    {error, _} -> closed
                end;
            {error, closed} -> closed;
            {error, econnreset} -> closed
        end
    after
        gen_tcp:close(S)
    end.

%% A handshake send_name message (version 5 form) from Name.
send_name(Name) ->
    Flags = 16#7fff4,
    Body = <<"n", 5:16, Flags:32, Name/binary>>,
    <<(byte_size(Body)):16, Body/binary>>.

%% --- signals -----------------------------------------------------------------

signals_test_() ->
    [{"SIGTERM: pycnode exits 0, the connection goes down, epmd forgets it",
      {timeout, 30, fun() -> stops_on("TERM") end}},
     {"SIGINT: pycnode exits, the connection goes down, epmd forgets it",
      {timeout, 30, fun() -> stops_on("INT") end}}].

stops_on(Signal) ->
    P = start_pycnode("sig" ++ string:lowercase(Signal), #{workers => 2}),
    N = maps:get(node, P),
    try
        ?assertEqual(pong, net_adm:ping(N)),
        ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])),
        ?assertMatch({port, _, _}, erl_epmd:port_please(maps:get(sname, P), pycnode_harness:host())),
        true = erlang:monitor_node(N, true),
        pycnode_harness:signal_pycnode(P, Signal),
        Exit = pycnode_harness:await_exit(P, 10000),
        case Signal of
            "TERM" -> ?assertEqual({exited, 0}, Exit);
            _ -> ?assertMatch({exited, _}, Exit)
        end,
        ?assertEqual(nodedown, receive {nodedown, N} -> nodedown after 5000 -> still_up end),
        ?assertEqual(noport, erl_epmd:port_please(maps:get(sname, P), pycnode_harness:host())),
        ?assertEqual({error, {nodedown, N}}, pycnode:ping(N))
    catch
        Class:Reason:Stack ->
            pycnode_harness:print_log(P, io_lib:format("test failed: ~P", [Reason, 30])),
            erlang:raise(Class, Reason, Stack)
    after
        case pycnode_harness:pycnode_status(P) of
            running -> pycnode_harness:signal_pycnode(P, "KILL"),
                       pycnode_harness:await_exit(P, 10000);
            _ -> ok
        end,
        maps:get(owner, P) ! stop
    end.

%% --- helpers -----------------------------------------------------------------

assert_serving(N) ->
    ?assertEqual(pong, net_adm:ping(N)),
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

peers_of(N) ->
    {ok, S} = pycnode:stats(N),
    maps:get(peers, S).

in_flight(N) ->
    {ok, S} = pycnode:stats(N),
    maps:get(requests_in_flight, S).
