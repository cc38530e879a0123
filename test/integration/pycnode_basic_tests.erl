%% Requests and replies against one pycnode (4 workers), called from the
%% test runner node: ping, stats, the term mapping, Python errors, bad
%% requests, pipelining and the client's own error handling.
-module(pycnode_basic_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, pyc_fixtures).
-define(WORKERS, 4).

basic_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("basic", #{workers => ?WORKERS}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"net_adm:ping and pycnode:ping", fun ping/1},
                 {"stats: every key, with sensible values", fun stats_keys/1},
                 {"stats: counters follow the requests", fun stats_counters/1},
                 {"echo: integers, small to bignum", fun echo_integers/1},
                 {"echo: floats, bit for bit", fun echo_floats/1},
                 {"echo: atoms, booleans, undefined", fun echo_atoms/1},
                 {"echo: binaries", fun echo_binaries/1},
                 {"echo: lists, strings, tuples, maps", fun echo_containers/1},
                 {"echo: pids, refs, ports, funs, improper lists", fun echo_opaque/1},
                 {"echo: every kind in one term", fun echo_all_at_once/1},
                 {"type_names: the Python types arguments arrive as", fun type_names/1},
                 {"add(1, 2) and friends", fun add/1},
                 {"5 MB binaries both ways", fun big_binaries/1},
                 {"nested results", fun nested/1},
                 {"module and function names: binary, atom, string, dotted", fun names/1},
                 {"Python exceptions", fun python_exceptions/1},
                 {"missing module and function", fun missing_callable/1},
                 {"results with no Erlang equivalent", fun bad_results/1},
                 {"atoms and opaque terms made in Python are checked", fun made_in_python/1},
                 {"bad requests get bad_request and the node keeps serving", fun bad_requests/1},
                 {"terms without a specified mapping do not hurt the node", fun unspecified_terms/1},
                 {"pipelining: 100 send_request then receive/wait_response", fun pipelining/1},
                 {"client: timeout, and no late reply in the mailbox", fun client_timeout/1},
                 {"client: unknown node and unknown registered name", fun client_unreachable/1},
                 {"pycnode:check says what is wrong, step by step", fun check/1}
             ])
     end}.

%% --- ping and stats --------------------------------------------------------

ping(#{node := N}) ->
    ?assertEqual(pong, net_adm:ping(N)),
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertEqual(pong, gen_server:call({pycnode, N}, ping, 5000)),
    %% A C-node is a hidden node.
    ?assert(lists:member(N, nodes(hidden))),
    ?assertNot(lists:member(N, nodes())).

stats_keys(#{node := N}) ->
    {ok, S} = pycnode:stats(N),
    Keys = [uptime_ms, connected_peers, peers, requests_served, requests_failed,
            requests_in_flight, queue_length, workers, python_version,
            free_threaded, gil_enabled],
    ?assertEqual([], Keys -- maps:keys(S)),
    [?assert(is_integer(maps:get(K, S)) andalso maps:get(K, S) >= 0)
     || K <- [uptime_ms, connected_peers, requests_served, requests_failed,
              requests_in_flight, queue_length, workers]],
    ?assertEqual(?WORKERS, maps:get(workers, S)),
    ?assert(maps:get(connected_peers, S) >= 1),
    Peers = maps:get(peers, S),
    ?assert(is_list(Peers)),
    ?assert(lists:all(fun is_atom/1, Peers)),
    ?assert(lists:member(node(), Peers)),
    ?assertEqual(length(Peers), maps:get(connected_peers, S)),
    Version = maps:get(python_version, S),
    ?assertMatch(<<"3.", _/binary>>, Version),
    ?assert(is_boolean(maps:get(free_threaded, S))),
    ?assert(is_boolean(maps:get(gil_enabled, S))),
    %% A GIL build always has the GIL on.
    ?assert(maps:get(free_threaded, S) orelse maps:get(gil_enabled, S)),
    ?assert(maps:get(requests_failed, S) =< maps:get(requests_served, S)).

stats_counters(#{node := N}) ->
    {ok, S0} = pycnode:stats(N),
    [?assertEqual({ok, I + 1}, pycnode:call(N, ?FIX, add, [I, 1])) || I <- lists:seq(1, 5)],
    ?assertMatch({error, {python, _, _, _}}, pycnode:call(N, ?FIX, raise_value_error, [<<"x">>])),
    timer:sleep(20),
    {ok, S1} = pycnode:stats(N),
    ?assert(maps:get(requests_served, S1) >= maps:get(requests_served, S0) + 6),
    ?assert(maps:get(requests_failed, S1) >= maps:get(requests_failed, S0) + 1),
    ?assert(maps:get(uptime_ms, S1) >= maps:get(uptime_ms, S0)),
    %% Twice as many 1 s calls as workers: for most of that second the
    %% workers are all busy and as many jobs wait.
    Reqs = [gen_server:send_request({pycnode, N}, {call, <<"pyc_fixtures">>, <<"slow">>, [1000]})
            || _ <- lists:seq(1, 2 * ?WORKERS)],
    timer:sleep(300),
    {ok, Busy} = pycnode:stats(N),
    ?assertEqual(?WORKERS, maps:get(queue_length, Busy)),
    ?assert(maps:get(requests_in_flight, Busy) >= ?WORKERS),
    [?assertMatch({reply, {ok, _}}, gen_server:receive_response(R, 5000)) || R <- Reqs],
    {ok, Idle} = pycnode:stats(N),
    ?assertEqual(0, maps:get(queue_length, Idle)),
    ?assertEqual(0, maps:get(requests_in_flight, Idle)),
    ?assert(maps:get(requests_served, Idle) >= maps:get(requests_served, S1) + 2 * ?WORKERS).

%% --- the term mapping --------------------------------------------------------

integers() ->
    [0, 1, -1, 42, 255, 256, -255, -256, 65535, 65536,
     (1 bsl 27) - 1, 1 bsl 27, -(1 bsl 27), -(1 bsl 27) - 1,
     (1 bsl 31) - 1, 1 bsl 31, -(1 bsl 31), -(1 bsl 31) - 1, 1 bsl 32, -(1 bsl 32),
     (1 bsl 59) - 1, 1 bsl 59, -(1 bsl 59), -(1 bsl 59) - 1,
     (1 bsl 63) - 1, 1 bsl 63, -(1 bsl 63), -(1 bsl 63) - 1,
     (1 bsl 64) - 1, 1 bsl 64, -(1 bsl 64),
     1 bsl 200, -(1 bsl 200), (1 bsl 200) + 12345, -(1 bsl 200) - 12345,
     %% More than 255 bytes of magnitude: LARGE_BIG_EXT.
     (1 bsl 2100) + 7, -(1 bsl 2100) - 7].

echo_integers(#{node := N}) ->
    [check_echo(N, I) || I <- integers()],
    ?assertEqual({ok, integers()}, echo(N, integers())).

floats() ->
    [0.0, 1.0, -1.0, 0.1, 1.5, -2.25, 3.141592653589793, 1.0e300, -1.0e-300,
     1.7976931348623157e308, 2.2250738585072014e-308, 5.0e-324, 123456789.123456789].

echo_floats(#{node := N}) ->
    [begin
         {ok, G} = echo(N, F),
         ?assert(is_float(G)),
         ?assertEqual(<<F/float>>, <<G/float>>)
     end || F <- floats() ++ [-0.0]],
    ?assertEqual({ok, floats()}, echo(N, floats())).

atoms() ->
    [foo, 'Hello World', 'with-dash', 'ünïcödé', '日本語', 'emoji😀', '',
     none, nil, null, 'None', 'True', ok, error, pycnode,
     list_to_atom(lists:duplicate(255, $a)),
     %% 255 characters of 3 bytes each: needs ATOM_UTF8_EXT's 2-byte length.
     list_to_atom(lists:duplicate(255, 16#65E5))].

echo_atoms(#{node := N}) ->
    [check_echo(N, A) || A <- atoms() ++ [true, false, undefined]],
    ?assertEqual({ok, {true, false, undefined}}, echo(N, {true, false, undefined})).

binaries() ->
    [<<>>, <<0>>, <<"hello">>, list_to_binary(lists:seq(0, 255)),
     <<"ünïcödé"/utf8>>, <<255, 254, 0, 1>>,
     binary:copy(<<"0123456789abcdef">>, 4096 + 1)].   % just over 64 KiB

echo_binaries(#{node := N}) ->
    [check_echo(N, B) || B <- binaries()].

containers() ->
    [[], {}, #{},
     [1, [2, [3, [4, []]]]],
     {1, {2, {3, {}}}},
     {a, <<"b">>, [c, 1.5], #{d => {}}},
     #{a => 1, <<"b">> => [1, 2], 3 => {x, y}, {t, 1} => #{}, 2.5 => [], true => false},
     #{nested => #{deeper => #{deepest => [#{}, #{k => v}]}}},
     maps:from_list([{I, I * I} || I <- lists:seq(1, 40)]),     % a hash map
     lists:seq(1, 10000),
     list_to_tuple(lists:seq(1, 300)),                          % LARGE_TUPLE_EXT
     "abc", "héllo", [16#1F600, 16#65E5], lists:seq(0, 255),
     lists:duplicate(70000, $a),                                % too long for STRING_EXT
     [[], [[]], {[]}, [{}], [#{}]]].

echo_containers(#{node := N}) ->
    [check_echo(N, T) || T <- containers()],
    %% Strings stay lists of integers.
    ?assertEqual({ok, [97, 98, 99]}, echo(N, "abc")).

opaque() ->
    Captured = 42,
    [self(), make_ref(), hd(erlang:ports()),
     fun erlang:abs/1, fun(X) -> X + Captured end,
     [1, 2 | 3], [a | b], [1 | <<"tail">>], [[] | [[] | x]],
     <<1:3>>, <<"abc", 5:4>>, {<<0:1>>, [<<255, 7:3>>]},
     {self(), make_ref(), [x | y]},
     #{pid => self(), list => [1 | 2]},
     [self(), make_ref()]].

echo_opaque(#{node := N}) ->
    [check_echo(N, T) || T <- opaque()].

echo_all_at_once(#{node := N}) ->
    All = {integers(), floats(), atoms(), [true, false, undefined], binaries(),
           containers(), opaque()},
    ?assertEqual({ok, All}, echo(N, All)),
    ?assertEqual({ok, [All, All]}, echo(N, [All, All])).

%% type_names/1 answers a scalar's type name, [Name, Parts] for a list or
%% tuple and [<<"dict">>, [[KeyParts, ValueParts]...]] for a dict.
type_names(#{node := N}) ->
    Cases = [{1, <<"int">>}, {1 bsl 200, <<"int">>}, {-(1 bsl 63), <<"int">>},
             {1.5, <<"float">>}, {true, <<"bool">>}, {false, <<"bool">>},
             {undefined, <<"NoneType">>}, {foo, <<"Atom">>}, {'ünï', <<"Atom">>}, {'', <<"Atom">>},
             {<<"x">>, <<"bytes">>}, {<<>>, <<"bytes">>},
             {"abc", [<<"list">>, [<<"int">>, <<"int">>, <<"int">>]]},
             {[], [<<"list">>, []]},
             {[1, a, <<"b">>], [<<"list">>, [<<"int">>, <<"Atom">>, <<"bytes">>]]},
             {{}, [<<"tuple">>, []]},
             {{1.0, undefined}, [<<"tuple">>, [<<"float">>, <<"NoneType">>]]},
             {#{}, [<<"dict">>, []]},
             {#{a => [1]}, [<<"dict">>, [[<<"Atom">>, [<<"list">>, [<<"int">>]]]]]},
             {[{[#{}]}], [<<"list">>, [[<<"tuple">>, [[<<"list">>, [[<<"dict">>, []]]]]]]]},
             %% Terms Python cannot take apart are pyrunner.Opaque.
             {self(), <<"Opaque">>}, {make_ref(), <<"Opaque">>}, {hd(erlang:ports()), <<"Opaque">>},
             {fun erlang:abs/1, <<"Opaque">>}, {fun(X) -> X end, <<"Opaque">>},
             {[1 | 2], <<"Opaque">>}, {[a, b | c], <<"Opaque">>}, {<<1:3>>, <<"Opaque">>},
             {[self()], [<<"list">>, [<<"Opaque">>]]}],
    [?assertEqual({T, {ok, Names}}, {T, pycnode:call(N, ?FIX, type_names, [T])}) || {T, Names} <- Cases],
    %% An Atom is a str (str methods take it; str results are binaries).
    ?assertEqual({ok, <<"FOO">>}, pycnode:call(N, builtins, 'str.upper', [foo])),
    ?assertEqual({ok, <<"foofoo">>}, pycnode:call(N, operator, add, [foo, foo])),
    ?assertEqual({ok, <<"foo">>}, pycnode:call(N, builtins, str, [foo])).

add(#{node := N}) ->
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])),
    ?assertEqual({ok, 0}, pycnode:call(N, ?FIX, add, [-(1 bsl 200), 1 bsl 200])),
    ?assertEqual({ok, 1 bsl 64}, pycnode:call(N, ?FIX, add, [1 bsl 63, 1 bsl 63])),
    ?assertEqual({ok, 4.0}, pycnode:call(N, ?FIX, add, [1.5, 2.5])),
    ?assertEqual({ok, <<"ab">>}, pycnode:call(N, ?FIX, add, [<<"a">>, <<"b">>])),
    ?assertEqual({ok, [1, 2]}, pycnode:call(N, ?FIX, add, [[1], [2]])).

big_binaries(#{node := N}) ->
    Size = 5 * 1024 * 1024,
    Big = rand:bytes(Size),
    ?assertEqual({ok, Big}, pycnode:call(N, ?FIX, echo, [Big], #{timeout => 30000})),
    {ok, FromPython} = pycnode:call(N, ?FIX, big_binary, [Size], #{timeout => 30000}),
    ?assert(is_binary(FromPython)),
    ?assertEqual(Size, byte_size(FromPython)),
    ?assertEqual(pong, pycnode:ping(N)).

nested(#{node := N}) ->
    {ok, Shallow} = pycnode:call(N, ?FIX, nested, [3]),
    ?assertEqual(3, depth(Shallow)),
    ?assertEqual({ok, [[[0]]]}, pycnode:call(N, ?FIX, nested, [3])),
    {ok, Deep} = pycnode:call(N, ?FIX, nested, [100]),
    ?assertEqual(100, depth(Deep)),
    {ok, Deeper} = pycnode:call(N, ?FIX, nested, [500]),
    ?assertEqual(500, depth(Deeper)),
    %% One limit both ways, counted in each value from its own outermost
    %% level: 512 levels below it pass, one more is refused, not a crash.
    {ok, AtLimit} = pycnode:call(N, ?FIX, nested, [512]),
    ?assertEqual(512, depth(AtLimit)),
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, nested, [513])),
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, nested, [100000])),
    ?assertEqual({ok, deep(512)}, echo(N, deep(512))),
    ?assertEqual({ok, deep(512)}, pycnode:call(N, builtins, max, [[]], #{kwargs => #{default => deep(512)}})),
    %% Past it, the error names the argument, however deep it goes: the
    %% request is well formed (From and Tag are readable), so the caller
    %% gets an answer rather than waiting for its timeout.
    TooDeep = {error, {bad_request, <<"argument 2: term nested deeper than 512 levels">>}},
    [?assertEqual(TooDeep, pycnode:call(N, ?FIX, echo_all, [1, deep(Depth)], #{timeout => 3000}))
     || Depth <- [513, 520, 1000, 100000]],
    KwTooDeep = {error, {bad_request, <<"keyword argument default: term nested deeper than 512 levels">>}},
    [?assertEqual(KwTooDeep, pycnode:call(N, builtins, max, [[]], #{kwargs => Kwargs, timeout => 3000}))
     || Depth <- [513, 1000], Kwargs <- [#{default => deep(Depth)}, [{default, deep(Depth)}]]],
    ?assertEqual({error, {bad_request, <<"option other: term nested deeper than 512 levels">>}},
                 pycnode:request(N, {call, ?FIX, <<"echo">>, [1], #{other => deep(1000)}}, #{})),
    ?assertEqual(pong, pycnode:ping(N)).

names(#{node := N}) ->
    ?assertEqual({ok, 3}, pycnode:call(N, <<"pyc_fixtures">>, <<"add">>, [1, 2])),
    ?assertEqual({ok, 3}, pycnode:call(N, pyc_fixtures, add, [1, 2])),
    ?assertEqual({ok, 3}, pycnode:call(N, "pyc_fixtures", "add", [1, 2])),
    ?assertEqual({ok, 1.5}, pycnode:call(N, math, sqrt, [2.25])),
    %% A dotted function path, from a dotted module too.
    ?assertEqual({ok, <<"a/b">>}, pycnode:call(N, os, 'path.join', [<<"a">>, <<"b">>])),
    ?assertEqual({ok, <<"a/b">>}, pycnode:call(N, 'os.path', join, [<<"a">>, <<"b">>])),
    ?assertEqual({ok, x}, pycnode:call(N, ?FIX, 'Holder.static_echo', [x])),
    ?assertEqual({ok, <<"Holder">>}, pycnode:call(N, ?FIX, <<"Holder.class_name">>, [])),
    ?assertEqual({ok, [1, b, <<"c">>]}, pycnode:call(N, ?FIX, echo_all, [1, b, <<"c">>])),
    ?assertEqual({ok, []}, pycnode:call(N, ?FIX, echo_all, [])),
    ?assertEqual({error, {badarg, args}}, pycnode:call(N, ?FIX, echo, not_a_list)),
    ?assertEqual({error, {badarg, module}}, pycnode:call(N, 42, echo, [])).

%% --- errors ------------------------------------------------------------------

python_exceptions(#{node := N}) ->
    {error, {python, Type, Message, TB}} = pycnode:call(N, ?FIX, raise_value_error, [<<"boom">>]),
    ?assertEqual(<<"ValueError">>, Type),
    ?assertEqual(<<"boom">>, Message),
    ?assert(is_binary(TB)),
    ?assert(contains(TB, <<"Traceback">>)),
    ?assert(contains(TB, <<"raise_value_error">>)),
    {error, {python, CType, CMessage, CTB}} = pycnode:call(N, ?FIX, raise_custom, []),
    ?assertEqual(<<"CustomError">>, CType),
    ?assertEqual(<<"custom">>, CMessage),
    ?assert(contains(CTB, <<"Traceback">>)),
    ?assert(contains(CTB, <<"inner">>)),
    ?assertMatch({error, {python, <<"CustomError">>, <<"ünï"/utf8>>, _}},
                 pycnode:call(N, ?FIX, raise_custom, [<<"ünï"/utf8>>])),
    %% Wrong arity is a TypeError raised by the call itself.
    ?assertMatch({error, {python, <<"TypeError">>, _, _}}, pycnode:call(N, ?FIX, add, [1])),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

missing_callable(#{node := N}) ->
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 pycnode:call(N, no_such_module_pyc, f, [])),
    {error, {python, <<"ModuleNotFoundError">>, Msg, _}} = pycnode:call(N, no_such_module_pyc, f, []),
    ?assert(contains(Msg, <<"no_such_module_pyc">>)),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}},
                 pycnode:call(N, ?FIX, no_such_function, [])),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}},
                 pycnode:call(N, os, 'path.no_such_function', [])),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

bad_results(#{node := N}) ->
    {error, {bad_result, Detail}} = pycnode:call(N, ?FIX, returns_set, []),
    ?assert(is_binary(Detail) andalso byte_size(Detail) > 0),
    ?assertMatch({error, _}, pycnode:call(N, ?FIX, returns_self_list, [])),
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, returns_nan, [])),
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, returns_strided_view, [])),
    ?assertMatch({error, _}, pycnode:call(N, ?FIX, returns_lone_surrogate, [])),
    %% 'a' and b'a' are both <<"a">>: a map with a duplicate key would cost
    %% the connection, so it must be refused.
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, ?FIX, returns_colliding_keys, [])),
    ?assertEqual({ok, [<<"ab">>, <<"cd">>, <<"ef">>]}, pycnode:call(N, ?FIX, returns_buffers, [])),
    %% NaN and infinity have no Erlang float (docs/protocol.md: bad_result).
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, builtins, float, [<<"nan">>])),
    ?assertMatch({error, {bad_result, _}}, pycnode:call(N, builtins, float, [<<"inf">>])),
    ?assertEqual({ok, 2.5}, pycnode:call(N, builtins, float, [<<"2.5">>])),
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

%% pyrunner.Atom and pyrunner.Opaque values made by Python code go out only
%% if Erlang can decode them: a malformed term on a distribution connection
%% makes Erlang drop the whole connection.
made_in_python(#{node := N}) ->
    ?assertEqual({ok, ok}, pycnode:call(N, ?FIX, make_atom, [<<"ok">>])),
    ?assertEqual({ok, 'ünï'}, pycnode:call(N, ?FIX, make_atom, [<<"ünï"/utf8>>])),
    Long = list_to_binary(lists:duplicate(255, $a)),
    ?assertEqual({ok, binary_to_atom(Long)}, pycnode:call(N, ?FIX, make_atom, [Long])),
    ?assertEqual({{error, bad_result}, connection_kept},
                 call_watching_connection(N, make_atom, [<<Long/binary, "a">>])),
    Good = [foo, {1, <<"x">>, [self()]}, #{a => 1, b => 2}, <<1:3>>, [1 | 2], 1 bsl 300],
    [?assertEqual({T, {ok, T}}, {T, pycnode:call(N, ?FIX, make_opaque, [ext(T)])}) || T <- Good],
    Bad = [{"empty", <<>>},
           {"not a term", <<"garbage">>},
           {"two terms", <<(ext(a))/binary, (ext(b))/binary>>},
           {"truncated tuple", binary:part(ext({1, 2, 3}), 0, 4)},
           {"a list longer than its bytes", <<108, 0, 0, 0, 200, 97, 1, 106>>},
           {"a map with a duplicate key", <<116, 0, 0, 0, 2, 119, 1, "a", 97, 1, 119, 1, "a", 97, 2>>},
           {"an atom that is not UTF-8", <<119, 2, 255, 254>>},
           {"a 256-character atom", <<118, 1, 0, (binary:copy(<<"a">>, 256))/binary>>},
           {"an unknown tag", <<200, 1, 2, 3>>}],
    %% Every case is tried (a dropped connection comes back with the next
    %% call) and the verdicts are compared at once, for a complete report.
    Verdicts = [{Label, call_watching_connection(N, make_opaque, [Bytes])} || {Label, Bytes} <- Bad],
    ?assertEqual([{Label, {{error, bad_result}, connection_kept}} || {Label, _} <- Bad], Verdicts),
    ?assertEqual(pong, pycnode:ping(N)).

%% Calls a fixture and reports the reply's shape and whether this node's
%% connection to pycnode survived it.
call_watching_connection(N, Function, Args) ->
    pong = net_adm:ping(N),
    true = erlang:monitor_node(N, true),
    Reply = pycnode:call(N, ?FIX, Function, Args),
    Connection = receive {nodedown, N} -> connection_dropped after 200 -> connection_kept end,
    erlang:monitor_node(N, false),
    receive {nodedown, N} -> ok after 0 -> ok end,
    Shape = case Reply of
                {error, {Kind, _}} -> {error, Kind};
                {error, Kind} -> {error, Kind};
                Other -> Other
            end,
    {Shape, Connection}.

bad_requests(#{node := N}) ->
    Bad = [hello, stop, 'call', 42, 1.5, <<"ping">>, "ping", [], {}, #{}, #{call => x},
           {ping}, {ping, extra}, {stats}, {stats, extra},
           {call}, {call, <<"m">>}, {call, <<"m">>, <<"f">>},
           {call, 1, 2, 3},
           {call, <<"m">>, <<"f">>, not_a_list},
           {call, <<"m">>, <<"f">>, [1 | 2]},
           {call, <<"m">>, <<"f">>, <<"args">>},
           {call, <<"m">>, <<"f">>, [], extra},
           {call, [<<"m">>], <<"f">>, []},
           {<<"call">>, <<"m">>, <<"f">>, []},
           {self(), make_ref()}],
    [begin
         Reply = gen_server:call({pycnode, N}, Req, 5000),
         ?assertMatch({Req, {error, {bad_request, D}}} when is_binary(D) andalso D =/= <<>>,
                      {Req, Reply})
     end || Req <- Bad],
    %% Not a call at all: nothing to answer, nothing to break.
    {pycnode, N} ! hello,
    {pycnode, N} ! {'$gen_call', not_a_from, ping},
    {pycnode, N} ! {'$gen_call', {self()}, ping},
    gen_server:cast({pycnode, N}, {call, <<"m">>, <<"f">>, []}),
    {not_registered_here, N} ! {'$gen_call', {self(), make_ref()}, ping},
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertMatch({ok, _}, pycnode:stats(N)),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])),
    ?assertEqual(nothing, receive Any -> {unexpected, Any} after 200 -> nothing end).

%% Invalid UTF-8 names and the like have no specified reply:
%% any {error, _} or a faithful round trip is fine, a dead node is not.
unspecified_terms(#{node := N}) ->
    Checks = [{pycnode:call(N, <<255, 254>>, <<"f">>, []), []},
              {pycnode:call(N, <<>>, <<"f">>, []), []},
              {pycnode:call(N, ?FIX, <<>>, []), []},
              {pycnode:call(N, ?FIX, <<"echo", 0, "x">>, [1]), []}],
    [?assert(is_error(R) orelse lists:member(R, Allowed)) || {R, Allowed} <- Checks],
    ?assertEqual(pong, pycnode:ping(N)),
    ?assertEqual({ok, 3}, pycnode:call(N, ?FIX, add, [1, 2])).

%% --- pipelining and the client --------------------------------------------

pipelining(#{node := N}) ->
    Server = {pycnode, N},
    Reqs = [{I, gen_server:send_request(Server, request_for(I))} || I <- lists:seq(1, 100)],
    %% Collected out of order: half with receive_response, half with wait_response.
    Replies = [{I, case I rem 2 of
                       0 -> gen_server:receive_response(R, 10000);
                       1 -> gen_server:wait_response(R, 10000)
                   end} || {I, R} <- lists:reverse(Reqs)],
    [?assertEqual({I, {reply, expected_for(I)}}, {I, Reply}) || {I, Reply} <- Replies],
    ?assertEqual(nothing, receive Any -> {unexpected, Any} after 100 -> nothing end).

request_for(I) when I rem 3 =:= 0 -> {call, <<"pyc_fixtures">>, <<"echo">>, [{I, lists:seq(1, I)}]};
request_for(I) when I rem 3 =:= 1 -> {call, <<"pyc_fixtures">>, <<"add">>, [I, 1 bsl 70]};
request_for(_) -> ping.

expected_for(I) when I rem 3 =:= 0 -> {ok, {I, lists:seq(1, I)}};
expected_for(I) when I rem 3 =:= 1 -> {ok, I + (1 bsl 70)};
expected_for(_) -> pong.

client_timeout(#{node := N}) ->
    ?assertEqual({error, timeout}, pycnode:call(N, ?FIX, slow, [800], #{timeout => 200})),
    ?assertEqual({error, timeout}, pycnode:call(N, ?FIX, slow, [800], #{timeout => 0})),
    %% The replies come after the caller gave up: they must not reach it.
    timer:sleep(1200),
    ?assertEqual(nothing, receive Any -> {unexpected, Any} after 0 -> nothing end),
    ?assertEqual({ok, 5}, pycnode:call(N, ?FIX, add, [2, 3], #{timeout => infinity})),
    ?assertEqual({ok, 5}, pycnode:call(N, ?FIX, add, [2, 3], #{timeout => 5000})),
    ?assertEqual(nothing, receive Any2 -> {unexpected, Any2} after 0 -> nothing end).

client_unreachable(#{node := N}) ->
    Nowhere = list_to_atom("pyc_nobody_here@" ++ pycnode_harness:host()),
    ?assertEqual({error, {nodedown, Nowhere}}, pycnode:ping(Nowhere)),
    ?assertEqual({error, {nodedown, Nowhere}}, pycnode:call(Nowhere, m, f, [])),
    ?assertEqual({error, {nodedown, Nowhere}}, pycnode:stats(Nowhere, #{timeout => infinity})),
    %% A name pycnode did not register: noproc at once, as from an Erlang
    %% node (gen_server:call monitors the name; pycnode answers noproc).
    ?assertEqual({error, {exit, noproc}}, pycnode:ping(N, #{name => not_pycnode, timeout => 5000})),
    ?assertEqual(pong, pycnode:ping(N, #{name => pycnode})).

%% --- helpers -----------------------------------------------------------------

%% A term's external format without the version byte, as Opaque.ext holds it.
ext(T) ->
    <<131, Ext/binary>> = term_to_binary(T),
    Ext.

deep(0) -> 0;
deep(N) -> [deep(N - 1)].

echo(N, T) ->
    pycnode:call(N, ?FIX, echo, [T], #{timeout => 10000}).

check_echo(N, T) ->
    ?assertEqual({T, {ok, T}}, {T, echo(N, T)}).

is_error({error, _}) -> true;
is_error(_) -> false.

contains(Bin, Part) when is_binary(Bin) -> binary:match(Bin, Part) =/= nomatch;
contains(List, Part) when is_list(List) -> lists:any(fun(X) -> contains(X, Part) end, List);
contains(Tuple, Part) when is_tuple(Tuple) -> contains(tuple_to_list(Tuple), Part);
contains(Map, Part) when is_map(Map) -> contains(maps:to_list(Map), Part);
contains(_, _) -> false.

%% The nesting depth of a term built by nested/1: containers inside containers.
depth(L) when is_list(L), L =/= [] -> 1 + lists:max([depth(X) || X <- L]);
depth(T) when is_tuple(T), tuple_size(T) > 0 -> 1 + lists:max([depth(X) || X <- tuple_to_list(T)]);
depth(M) when is_map(M), map_size(M) > 0 -> 1 + lists:max([depth(X) || X <- maps:values(M)]);
depth(_) -> 0.

check(#{node := N} = P) ->
    Host = pycnode_harness:host(),
    ?assertEqual(ok, pycnode:check(N)),
    ?assertEqual({error, {not_registered, pyc_nobody_here, list_to_atom(Host)}},
                 pycnode:check(list_to_atom("pyc_nobody_here@" ++ Host))),
    ?assertEqual({error, {bad_node_name, nohost}}, pycnode:check(nohost)),
    %% Registered and listening, but pycnode serves another name.
    ?assertMatch({error, {not_serving, {exit, noproc}}}, pycnode:check(N, #{name => not_our_name})),
    %% A node with another cookie: the handshake is refused.
    Bad = pycnode_harness:start_peer("checkcookie", #{cookie => "not_the_cookie", connection => standard_io}),
    try
        ?assertEqual({error, handshake_refused}, pycnode_harness:peer_call(Bad, pycnode, check, [N], 20000))
    after
        pycnode_harness:stop_peer(Bad)
    end,
    ?assert(pycnode_harness:log_count(P, "does not have our cookie") >= 1),
    ?assertEqual({error, {badarg, node}}, pycnode:check("not an atom")).
