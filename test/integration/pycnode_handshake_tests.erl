%% Handshakes under load: sockets that never finish their handshake (silent,
%% or trickling a byte at a time) must not keep a real node out, and must
%% cost pycnode little; past the bounds the oldest are dropped.
-module(pycnode_handshake_tests).

-include_lib("eunit/include/eunit.hrl").

-export([send_name_23/1, connect_as/3]).

-import(pycnode_harness, [start_pycnode/2, start_peer/2, stop_peer/1, peer_call/5, wait_until/3, log_count/2]).

-define(FIX, pyc_fixtures).

%% --- thousands of unfinished handshakes --------------------------------------

crowd_test_() ->
    {setup,
     %% Bounds above the crowd and a long deadline: every socket stays
     %% pending for the whole test, so nothing but concurrency lets the good
     %% node in.
     fun() -> start_pycnode("crowd", #{workers => 2,
                                       args => ["--handshake-timeout", "60000", "--max-handshakes", "5000",
                                                "--max-handshakes-per-address", "5000"]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"1000 silent and 1000 trickling sockets do not keep a new node out", fun crowd/1}
             ], 120)
     end}.

crowd(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    Silent = [connect(Host, Port) || _ <- lists:seq(1, 1000)],
    Trickling = [connect(Host, Port) || _ <- lists:seq(1, 1000)],
    %% Each trickling socket sends a real send_name, one byte every 100 ms
    %% (about 25 s for the whole message).
    Name = <<(binary:copy(<<"t">>, 240))/binary, "@h">>,
    Trickler = spawn_link(fun() -> trickle(Trickling, framed(send_name_23(Name))) end),
    try
        ?assertEqual(true, wait_until(fun() -> stat(N, handshakes_pending) >= 2000 end, 10000, 50)),
        H = start_peer("crowd", #{}),
        try
            T0 = erlang:monotonic_time(millisecond),
            ?assertEqual({ok, 3}, peer_call(H, pycnode, call, [N, ?FIX, add, [1, 2], #{timeout => 20000}], 30000)),
            Connected = erlang:monotonic_time(millisecond) - T0,
            %% Served at normal speed once in: 2,000 calls in a row.
            ?assertEqual({2000, []}, peer_call(H, pycnode_harness, burst, [N, 1, 2000], 60000)),
            io:format(user, "~n  good node connected and answered in ~b ms with 2000 handshakes pending~n",
                      [Connected])
        after
            stop_peer(H)
        end,
        %% Still all pending: nothing was dropped to let it in.
        ?assert(stat(N, handshakes_pending) >= 2000),
        ?assertEqual(0, stat(N, handshakes_evicted))
    after
        unlink(Trickler),
        exit(Trickler, kill),
        [gen_tcp:close(S) || S <- Silent ++ Trickling]
    end,
    ?assertEqual(true, wait_until(fun() -> stat(N, handshakes_pending) =:= 0 end, 10000, 50)).

trickle(Sockets, Bytes) -> trickle(Sockets, Bytes, 0).

trickle(Sockets, Bytes, At) when At < byte_size(Bytes) ->
    [gen_tcp:send(S, binary:part(Bytes, At, 1)) || S <- Sockets],
    timer:sleep(100),
    trickle(Sockets, Bytes, At + 1);
trickle(_Sockets, _Bytes, _At) ->
    receive after infinity -> ok end.

%% --- the bounds ----------------------------------------------------------------

bounds_test_() ->
    {setup,
     fun() -> start_pycnode("bounds", #{workers => 1,
                                        args => ["--handshake-timeout", "1000",
                                                 "--max-handshakes-per-address", "16"]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"past the per-address bound the oldest pending handshakes are dropped", fun bounds/1},
                 {"a handshake past its deadline is dropped", fun deadline/1}
             ], 60)
     end}.

bounds(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    Evicted0 = stat(N, handshakes_evicted),
    Sockets = [connect(Host, Port) || _ <- lists:seq(1, 40)],
    try
        ?assertEqual(true, wait_until(fun() -> stat(N, handshakes_evicted) >= Evicted0 + 24 end, 5000, 20)),
        ?assert(stat(N, handshakes_pending) =< 16),
        %% The oldest went first: the first socket is closed, the last is not.
        ?assertEqual(closed, recv_closed(hd(Sockets), 2000)),
        ?assertEqual(open, recv_closed(lists:last(Sockets), 100)),
        %% A real node still gets in, though it too comes from this address.
        ?assertEqual(pong, net_adm:ping(N)),
        ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2]))
    after
        [gen_tcp:close(S) || S <- Sockets]
    end.

deadline(#{node := N} = P) ->
    Port = pycnode_harness:listen_port(P),
    Host = pycnode_harness:host(),
    S = connect(Host, Port),
    try
        %% Half a send_name, then nothing: dropped at the deadline (1 s).
        ok = gen_tcp:send(S, binary:part(framed(send_name_23(<<"slow@h">>)), 0, 8)),
        ?assertEqual(closed, recv_closed(S, 5000)),
        ?assertEqual(true, wait_until(fun() -> log_count(P, "timed out after 1000 ms") >= 1 end, 3000, 50))
    after
        gen_tcp:close(S)
    end,
    ?assertEqual(pong, pycnode:ping(N)).

%% --- an idle node ----------------------------------------------------------------

idle_log_test_() ->
    {setup,
     fun() -> start_pycnode("idle", #{workers => 1, args => ["--handshake-timeout", "500"]}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"an idle pycnode logs no refused handshakes", fun idle_log/1}
             ], 30)
     end}.

%% Nobody connects for four handshake timeouts: there is nothing to refuse.
idle_log(P) ->
    timer:sleep(2000),
    ?assertEqual(0, log_count(P, "refused|timed out")),
    N = maps:get(node, P),
    ?assertEqual(pong, net_adm:ping(N)),
    ?assertEqual(0, log_count(P, "refused|timed out")).

%% --- helpers -----------------------------------------------------------------

%% A whole handshake by hand as the hidden node Name; the socket is then a
%% distribution connection (4-byte packets). {ok, Socket} | {error, Step}.
connect_as(Host, Port, Name) ->
    {ok, S} = gen_tcp:connect(Host, Port, [binary, {active, false}, {packet, 2}], 2000),
    ok = gen_tcp:send(S, send_name_23(Name)),
    {ok, <<"sok", _/binary>>} = gen_tcp:recv(S, 0, 5000),
    {ok, <<"N", _Flags:64, Challenge:32, _/binary>>} = gen_tcp:recv(S, 0, 5000),
    Digest = erlang:md5([pycnode_harness:cookie(), integer_to_list(Challenge)]),
    ok = gen_tcp:send(S, <<"r", 42:32, Digest/binary>>),
    {ok, <<"a", _/binary>>} = gen_tcp:recv(S, 0, 5000),
    ok = inet:setopts(S, [{packet, 4}]),
    {ok, S}.

%% The OTP 23+ send_name body of a hidden node with OTP 25's flags.
send_name_23(Name) ->
    Flags = 16#4 bor 16#8 bor 16#10 bor 16#80 bor 16#100 bor 16#200 bor 16#400 bor 16#800 bor 16#1000
        bor 16#4000 bor 16#10000 bor 16#20000 bor 16#40000 bor 16#80000 bor 16#100000 bor 16#400000
        bor 16#1000000 bor 16#2000000,
    <<"N", Flags:64, 1:32, (byte_size(Name)):16, Name/binary>>.

framed(Body) -> <<(byte_size(Body)):16, Body/binary>>.

connect(Host, Port) ->
    {ok, S} = gen_tcp:connect(Host, Port, [binary, {active, false}], 5000),
    S.

recv_closed(S, Ms) ->
    case gen_tcp:recv(S, 0, Ms) of
        {error, timeout} -> open;
        {error, closed} -> closed;
        {error, econnreset} -> closed;
        {ok, _} -> recv_closed(S, Ms)
    end.

stat(N, Key) ->
    {ok, S} = pycnode:stats(N),
    maps:get(Key, S).
