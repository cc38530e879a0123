%% The client application on its own: what needs no pycnode.
-module(pycnode_client_tests).

-include_lib("eunit/include/eunit.hrl").

default_node_test() ->
    Host = pycnode_harness:host(),
    ok = application:load(pycnode),
    try
        ?assertEqual({ok, undefined}, application:get_env(pycnode, node)),
        ?assertEqual(list_to_atom("pycnode@" ++ Host), pycnode:default_node()),
        ok = application:set_env(pycnode, node, 'elsewhere@host'),
        ?assertEqual('elsewhere@host', pycnode:default_node())
    after
        application:unload(pycnode)
    end.

application_starts_test() ->
    ?assertMatch({ok, _}, application:ensure_all_started(pycnode)),
    try
        ?assert(is_pid(whereis(pycnode_sup))),
        ?assertEqual({ok, 5000}, application:get_env(pycnode, timeout)),
        ?assertEqual({ok, pycnode}, application:get_env(pycnode, name))
    after
        ok = application:stop(pycnode),
        application:unload(pycnode)
    end.

bad_arguments_test() ->
    N = list_to_atom("pyc_nobody_here@" ++ pycnode_harness:host()),
    ?assertError(badarg, pycnode:call(N, m, f, not_a_list)),
    ?assertError(badarg, pycnode:call(N, {m}, f, [])),
    ?assertError(badarg, pycnode:call(N, m, [f, 1.5], [])),
    ?assertError(badarg, pycnode:call(N, m, f, [], not_a_map)),
    ?assertError(function_clause, pycnode:ping("not an atom")).
