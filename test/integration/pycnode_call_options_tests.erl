%% Options of a generic call: keyword arguments, binaries as str, nil as
%% None; per call and as the node's defaults (--strings, --nil).
-module(pycnode_call_options_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, pyc_fixtures).

per_call_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("callopts", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"strings => str: binaries arrive as str", fun strings/1},
                 {"kwargs: a map or a proplist, atom or binary keys", fun kwargs/1},
                 {"nil => none: nil and None both ways, sync and async", fun nil/1},
                 {"bad options get bad_request naming what is wrong", fun bad_options/1}
             ])
     end}.

strings(#{node := N}) ->
    Doc = #{<<"a">> => [1, 2.5, true]},
    %% bytes by default: json cannot serialise them.
    ?assertMatch({error, {python, <<"TypeError">>, _, _}}, pycnode:call(N, json, dumps, [Doc])),
    ?assertEqual({ok, <<"{\"a\": [1, 2.5, true]}">>}, pycnode:call(N, json, dumps, [Doc], #{strings => str})),
    ?assertEqual({ok, <<"str">>}, pycnode:call(N, ?FIX, type_names, [<<"x">>], #{strings => str})),
    ?assertEqual({ok, <<"bytes">>}, pycnode:call(N, ?FIX, type_names, [<<"x">>])),
    %% Map keys too: a JSON-like map from Erlang is a dict of str.
    ?assertEqual({ok, [<<"dict">>, [[<<"str">>, <<"str">>]]]},
                 pycnode:call(N, ?FIX, type_names, [#{<<"k">> => <<"v">>}], #{strings => str})),
    %% Charlists stay lists.
    ?assertEqual({ok, [<<"list">>, [<<"int">>, <<"int">>]]},
                 pycnode:call(N, ?FIX, type_names, ["hi"], #{strings => str})),
    %% Invalid UTF-8 cannot be a str: refused, naming the argument.
    {error, {bad_request, Detail}} = pycnode:call(N, ?FIX, echo, [<<255, 0>>], #{strings => str}),
    ?assertMatch({match, _}, re:run(Detail, "argument 1: binary is not valid UTF-8")).

kwargs(#{node := N}) ->
    ?assertEqual({ok, [3, 2, 1]}, pycnode:call(N, builtins, sorted, [[3, 1, 2]], #{kwargs => #{reverse => true}})),
    ?assertEqual({ok, 255}, pycnode:call(N, builtins, int, [<<"ff">>], #{kwargs => [{base, 16}]})),
    ?assertEqual({ok, [[1], #{<<"key">> => <<"v">>, <<"other">> => 2}]},
                 pycnode:call(N, ?FIX, describe_call, [1],
                              #{kwargs => [{key, <<"v">>}, {<<"other">>, 2}], strings => str})),
    %% A keyword the function does not take is Python's TypeError.
    ?assertMatch({error, {python, <<"TypeError">>, _, _}},
                 pycnode:call(N, ?FIX, add, [1], #{kwargs => #{c => 2}})),
    %% Raw request, for the wire form of docs/protocol.md.
    ?assertEqual({ok, [[], #{<<"x">> => 1}]},
                 gen_server:call({pycnode, N}, {call, <<"pyc_fixtures">>, <<"describe_call">>, [],
                                               #{kwargs => #{x => 1}}})).

nil(#{node := N}) ->
    ?assertEqual({ok, <<"NoneType">>}, pycnode:call(N, ?FIX, type_names, [nil], #{nil => none})),
    ?assertEqual({ok, <<"Atom">>}, pycnode:call(N, ?FIX, type_names, [nil])),
    ?assertEqual({ok, nil}, pycnode:call(N, ?FIX, echo, [undefined], #{nil => none})),
    ?assertEqual({ok, undefined}, pycnode:call(N, ?FIX, echo, [undefined])),
    %% Through an async function too (its reply is made after the await).
    ?assertEqual({ok, [nil, #{nil => 1}]}, pycnode:call(N, ?FIX, async_echo, [[nil, #{nil => 1}]], #{nil => none})),
    ?assertEqual({ok, <<"NoneType">>},
                 pycnode:call(N, ?FIX, type_names, [nil], #{nil => none, kwargs => #{}})).

bad_options(#{node := N}) ->
    Bad = fun(Opts) ->
                  {error, {bad_request, D}} =
                      gen_server:call({pycnode, N}, {call, <<"pyc_fixtures">>, <<"echo">>, [1], Opts}),
                  D
          end,
    ?assertMatch({match, _}, re:run(Bad(#{kwarg => #{}}), "unknown option kwarg")),
    ?assertMatch({match, _}, re:run(Bad(#{strings => text}), "option strings takes str or bytes")),
    ?assertMatch({match, _}, re:run(Bad(#{nil => null}), "option nil takes none or atom")),
    ?assertMatch({match, _}, re:run(Bad(#{kwargs => [x]}), "kwargs is a map or a list of \\{Key, Value\\}")),
    ?assertMatch({match, _}, re:run(Bad(#{kwargs => #{1 => 2}}), "kwargs keys are")),
    ?assertEqual({ok, 1}, pycnode:call(N, ?FIX, echo, [1])).

node_defaults_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("calldefaults", #{workers => 1,
                                                               args => ["--strings", "str", "--nil", "none"]})
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [{"--strings str --nil none: the node's defaults, overridden per call",
                                        fun node_defaults/1}])
     end}.

node_defaults(#{node := N}) ->
    ?assertEqual({ok, <<"[\"x\", null]">>}, pycnode:call(N, json, dumps, [[<<"x">>, nil]])),
    ?assertEqual({ok, <<"bytes">>}, pycnode:call(N, ?FIX, type_names, [<<"x">>], #{strings => bytes})),
    ?assertEqual({ok, <<"Atom">>}, pycnode:call(N, ?FIX, type_names, [nil], #{nil => atom})).
