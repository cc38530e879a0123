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

%% One answer for each kind of bad argument, whatever the function: it is
%% found before anything is sent (the node does not exist: a sent request
%% would be {error, {nodedown, _}}) and named.
bad_arguments_test() ->
    N = list_to_atom("pyc_nobody_here@" ++ pycnode_harness:host()),
    H = {'$pycnode_handle', make_ref()},
    Bad = <<"pyc_nobody_here">>,
    ?assertEqual({error, {badarg, args}}, pycnode:call(N, m, f, not_a_list)),
    ?assertEqual({error, {badarg, args}}, pycnode:call(N, m, f, [a | b])),
    ?assertEqual({error, {badarg, module}}, pycnode:call(N, {m}, f, [])),
    ?assertEqual({error, {badarg, module}}, pycnode:call(N, <<>>, f, [])),
    ?assertEqual({error, {badarg, function}}, pycnode:call(N, m, [f, 1.5], [])),
    ?assertEqual({error, {badarg, opts}}, pycnode:call(N, m, f, [], not_a_map)),
    ?assertEqual({error, {badarg, kwargs}}, pycnode:call(N, m, f, [], #{kwargs => [{1, 2}]})),
    ?assertEqual({error, {badarg, kwargs}}, pycnode:call(N, m, f, [], #{kwargs => #{<<>> => 2}})),
    ?assertEqual({error, {badarg, strings}}, pycnode:call(N, m, f, [], #{strings => utf8})),
    ?assertEqual({error, {badarg, nil}}, pycnode:call(N, m, f, [], #{nil => null})),
    ?assertEqual({error, {badarg, result}}, pycnode:call(N, m, f, [], #{result => ref})),
    ?assertEqual({error, {badarg, namespace}}, pycnode:eval(N, <<"1">>, #{}, #{namespace => 7})),
    ?assertEqual({error, {badarg, bindings}}, pycnode:eval(N, <<"1">>, not_a_map)),
    ?assertEqual({error, {badarg, expression}}, pycnode:eval(N, [1.5], #{})),
    ?assertEqual({error, {badarg, statements}}, pycnode:exec(N, {x}, #{})),
    ?assertEqual({error, {badarg, prefix}}, pycnode:reload(N, m, #{prefix => yes})),
    ?assertEqual({error, {badarg, handle}}, pycnode:release(not_a_handle)),
    ?assertEqual({error, {badarg, handle}}, pycnode:call_method({'$pycnode_handle', 1}, m, [])),
    ?assertEqual({error, {badarg, method}}, pycnode:call_method(H, 1, [])),
    ?assertEqual({error, {badarg, args}}, pycnode:call_method(H, m, x)),
    ?assertEqual({error, {badarg, attribute}}, pycnode:getattr(H, <<>>)),
    %% A node name that is not an atom, a timeout that is not one, a name
    %% that is not an atom: the same answer from every function.
    Calls = [fun(Node, O) -> pycnode:ping(Node, O) end,
             fun(Node, O) -> pycnode:stats(Node, O) end,
             fun(Node, O) -> pycnode:health(Node, O) end,
             fun(Node, O) -> pycnode:check(Node, O) end,
             fun(Node, O) -> pycnode:call(Node, m, f, [], O) end,
             fun(Node, O) -> pycnode:eval(Node, <<"1">>, #{}, O) end,
             fun(Node, O) -> pycnode:exec(Node, <<"x = 1">>, #{}, O) end,
             fun(Node, O) -> pycnode:reload(Node, m, O) end,
             fun(Node, O) -> pycnode:request(Node, ping, O) end,
             fun(Node, O) -> py_asgi:run(m, app, #{}, <<>>, O#{node => Node}) end,
             fun(Node, O) -> py_asgi:build_scope(#{}, O#{node => Node}) end,
             fun(Node, O) -> py_wsgi:run(m, app, #{}, O#{node => Node}) end],
    [begin
         ?assertEqual({error, {badarg, node}}, Call(Bad, #{})),
         ?assertEqual({error, {badarg, node}}, Call("pyc_nobody_here@host", #{})),
         ?assertEqual({error, {badarg, timeout}}, Call(N, #{timeout => -1})),
         ?assertEqual({error, {badarg, timeout}}, Call(N, #{timeout => 1.5})),
         ?assertEqual({error, {badarg, name}}, Call(N, #{name => "pycnode"}))
     end || Call <- Calls],
    [?assertEqual({error, {badarg, timeout}}, Call(#{timeout => soon}))
     || Call <- [fun(O) -> pycnode:call_method(H, m, [], O) end,
                 fun(O) -> pycnode:getattr(H, a, O) end,
                 fun(O) -> pycnode:release(H, O) end]],
    %% Good arguments are sent: the missing node answers as one.
    ?assertEqual({error, {nodedown, N}}, pycnode:ping(N, #{timeout => 2000})).
