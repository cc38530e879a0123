%% Code at run time: eval and exec in named namespaces, and reloading
%% modules so that every worker serves the new code.
-module(pycnode_code_tests).

-include_lib("eunit/include/eunit.hrl").

code_test_() ->
    {setup,
     fun() ->
             Dir = filename:join(os:getenv("PYCNODE_TEST_DIR"), "reload_modules"),
             ok = filelib:ensure_dir(filename:join([Dir, "reloadpkg", "x"])),
             write(Dir, "reloadme.py", "def version():\n    return 1\n"),
             write(Dir, "reloadpkg/__init__.py", ""),
             write(Dir, "reloadpkg/sub.py", "def version():\n    return 1\n"),
             P = pycnode_harness:start_pycnode("code", #{workers => 2, threads => 3,
                                                          args => ["--pythonpath", Dir]}),
             P#{dir => Dir}
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"eval with bindings", fun eval/1},
                 {"exec defines, eval sees it, in that namespace only", fun exec/1},
                 {"eval and exec errors are Python's", fun errors/1},
                 {"reload: every worker serves the new code", fun reload/1},
                 {"reload with prefix: a package and its modules", fun reload_prefix/1}
             ])
     end}.

eval(#{node := N}) ->
    ?assertEqual({ok, 3}, pycnode:eval(N, <<"x + y">>, #{x => 1, <<"y">> => 2})),
    ?assertEqual({ok, <<"abab">>}, pycnode:eval(N, "s * 2", #{s => <<"ab">>}, #{strings => str})),
    ?assertEqual({ok, [0, 1, 4]}, pycnode:eval(N, <<"[i * i for i in range(3)]">>, #{})).

exec(#{node := N}) ->
    ?assertEqual(ok, pycnode:exec(N, <<"def scaled(n):\n    return n * k\n">>, #{k => 10}, #{namespace => ns1})),
    ?assertEqual({ok, 40}, pycnode:eval(N, <<"scaled(4)">>, #{}, #{namespace => ns1})),
    %% Bindings persist in the namespace: k is rebound, scaled sees it.
    ?assertEqual({ok, 8}, pycnode:eval(N, <<"scaled(4)">>, #{k => 2}, #{namespace => <<"ns1">>})),
    ?assertMatch({error, {python, <<"NameError">>, _, _}}, pycnode:eval(N, <<"scaled(4)">>, #{}, #{namespace => ns2})).

errors(#{node := N}) ->
    ?assertMatch({error, {python, <<"SyntaxError">>, _, _}}, pycnode:eval(N, <<"1 +">>, #{})),
    ?assertMatch({error, {python, <<"ValueError">>, _, _}}, pycnode:eval(N, <<"1">>, #{<<"not a name">> => 1})),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}}, pycnode:exec(N, <<"1 / 0">>, #{})),
    ?assertEqual({error, {badarg, bindings}}, pycnode:eval(N, <<"1">>, not_a_map)).

reload(#{node := N, dir := Dir}) ->
    %% Cached on every blocking thread and event worker first.
    [?assertEqual({ok, 1}, pycnode:call(N, reloadme, version, [])) || _ <- lists:seq(1, 20)],
    write(Dir, "reloadme.py", "def version():\n    return 200\n"),
    ?assertEqual({ok, 1}, pycnode:call(N, reloadme, version, [])),  % not before the reload
    ?assertEqual({ok, [<<"reloadme">>]}, pycnode:reload(N, reloadme)),
    Seen = lists:usort([pycnode:call(N, reloadme, version, []) || _ <- lists:seq(1, 30)]),
    ?assertEqual([{ok, 200}], Seen),
    %% A module that does not import is Python's error; the old code keeps serving.
    write(Dir, "reloadme.py", "def version(:\n"),
    ?assertMatch({error, {python, <<"SyntaxError">>, _, _}}, pycnode:reload(N, reloadme)),
    ?assertEqual({ok, 200}, pycnode:call(N, reloadme, version, [])).

reload_prefix(#{node := N, dir := Dir}) ->
    ?assertEqual({ok, 1}, pycnode:call(N, 'reloadpkg.sub', version, [])),
    write(Dir, "reloadpkg/sub.py", "def version():\n    return 300\n"),
    ?assertEqual({ok, [<<"reloadpkg">>, <<"reloadpkg.sub">>]}, pycnode:reload(N, reloadpkg, #{prefix => true})),
    ?assertEqual([{ok, 300}], lists:usort([pycnode:call(N, 'reloadpkg.sub', version, []) || _ <- lists:seq(1, 20)])).

write(Dir, Name, Text) ->
    ok = file:write_file(filename:join(Dir, Name), Text).
