%% --preload and the GIL. On every build: a preloaded module is served, and a
%% module that cannot be preloaded stops pycnode with a clear message. On a
%% free-threaded build: an extension without Py_mod_gil, preloaded, makes
%% pycnode refuse to start and name it, unless --allow-gil; imported by a
%% call, it turns stats' gil_enabled true.
-module(pycnode_gil_tests).

-include_lib("eunit/include/eunit.hrl").

gil_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("gil", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"a preloaded module is served", fun preloaded/1},
                 {"a module that cannot be preloaded stops pycnode", fun preload_missing/1},
                 {"free-threaded: an extension that needs the GIL", fun needs_gil/1}
             ])
     end}.

preloaded(_) ->
    P = pycnode_harness:start_pycnode("preload", #{workers => 1, args => ["--preload", "json"]}),
    try
        ?assertEqual({ok, <<"[1, 2]">>}, pycnode:call(maps:get(node, P), json, dumps, [[1, 2]]))
    after
        pycnode_harness:stop_pycnode(P)
    end.

preload_missing(_) ->
    {Status, Output} = run_binary(["--preload", "no_such_module_here"]),
    ?assertNotEqual(0, Status),
    ?assertMatch({match, _}, re:run(Output, "cannot preload 'no_such_module_here'")),
    ?assertMatch({match, _}, re:run(Output, "ModuleNotFoundError")).

needs_gil(#{node := N}) ->
    {ok, Stats} = pycnode:stats(N),
    case maps:get(free_threaded, Stats) of
        false ->
            ?assertEqual(true, maps:get(gil_enabled, Stats)),
            %% --allow-gil means nothing with the GIL: refused, saying why.
            {Status, Output} = run_binary(["--allow-gil"]),
            ?assertNotEqual(0, Status),
            ?assertMatch({match, _}, re:run(Output, "--allow-gil applies to a free-threaded CPython only"));
        true ->
            ?assertEqual(false, maps:get(gil_enabled, Stats)),
            Dir = compile_extension(N),
            {Status, Output} = run_binary(["--pythonpath", Dir, "--preload", "needs_gil"]),
            ?assertNotEqual(0, Status),
            ?assertMatch({match, _}, re:run(Output, "GIL is enabled .* caused by importing 'needs_gil'")),
            Allowed = pycnode_harness:start_pycnode("allow_gil", #{workers => 1,
                          args => ["--pythonpath", Dir, "--preload", "needs_gil", "--allow-gil"]}),
            try
                {ok, S1} = pycnode:stats(maps:get(node, Allowed)),
                ?assertEqual(true, maps:get(gil_enabled, S1))
            after
                pycnode_harness:stop_pycnode(Allowed)
            end,
            Late = pycnode_harness:start_pycnode("late_gil", #{workers => 1, args => ["--pythonpath", Dir]}),
            try
                LN = maps:get(node, Late),
                {ok, S2} = pycnode:stats(LN),
                ?assertEqual(false, maps:get(gil_enabled, S2)),
                %% Any call into the module imports it: __dir__ is one every module has.
                {ok, Names} = pycnode:call(LN, needs_gil, '__dir__', []),
                ?assert(lists:member(<<"__name__">>, Names)),
                {ok, S3} = pycnode:stats(LN),
                ?assertEqual(true, maps:get(gil_enabled, S3)),
                ?assert(pycnode_harness:log_count(Late, "the GIL is now enabled") >= 1)
            after
                pycnode_harness:stop_pycnode(Late)
            end
    end.

%% Builds test/fixtures/ext/needs_gil.c for the interpreter pycnode embeds,
%% asking that interpreter (through pycnode) for its headers and suffix.
compile_extension(N) ->
    {ok, #{<<"include">> := Include}} = pycnode:call(N, sysconfig, get_paths, []),
    {ok, [Suffix | _]} = pycnode:call(N, '_imp', extension_suffixes, []),
    Dir = filename:join(os:getenv("PYCNODE_TEST_DIR"), "ext"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Source = filename:join([os:getenv("PYCNODE_FIXTURES"), "ext", "needs_gil.c"]),
    Target = filename:join(Dir, "needs_gil" ++ binary_to_list(Suffix)),
    Cmd = lists:flatten(io_lib:format("gcc -shared -fPIC -I~s ~s -o ~s 2>&1; echo $?",
                                      [Include, Source, Target])),
    Out = os:cmd(Cmd),
    ?assertEqual("0", lists:last(string:lexemes(Out, "\n")), Out),
    Dir.

%% Runs the binary to completion (it must stop before registering) and
%% returns its exit status and output.
run_binary(Args) ->
    Name = "pyc_gil_fail_" ++ integer_to_list(erlang:unique_integer([positive])),
    Cmd = lists:flatten([os:getenv("PYCNODE_BINARY"), " --sname ", Name,
                         " --cookie-file ", os:getenv("PYCNODE_COOKIE_FILE"),
                         " --pythonpath ", os:getenv("PYCNODE_FIXTURES"),
                         [[" ", A] || A <- Args], " 2>&1 </dev/null; echo \"exit=$?\""]),
    Output = os:cmd("timeout 20 sh -c '" ++ Cmd ++ "'"),
    {match, [Status]} = re:run(Output, "exit=([0-9]+)", [{capture, all_but_first, list}]),
    {list_to_integer(Status), Output}.
