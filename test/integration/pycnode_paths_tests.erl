%% sys.path: --append-pythonpath (at the end, after --pythonpath and the
%% site-packages) and virtualenvs, by --venv or VIRTUAL_ENV. The venv is made
%% at test time by the python of the interpreter pycnode embeds (3.11 or
%% 3.13t), with --system-site-packages and no pip; its module is a file
%% written into its site-packages, plus a .pth file naming one more directory.
-module(pycnode_paths_tests).

-include_lib("eunit/include/eunit.hrl").

paths_test_() ->
    {setup,
     fun() ->
             Root = filename:join(os:getenv("PYCNODE_TEST_DIR"), "paths"),
             Pre = filename:join(Root, "pre"),
             Post = filename:join(Root, "post"),
             write(Pre, "shadowed_mod.py", "WHERE = 'pythonpath'\n"),
             write(Post, "shadowed_mod.py", "WHERE = 'append'\n"),
             write(Post, "appended_only_mod.py", "WHERE = 'append'\n"),
             P = pycnode_harness:start_pycnode("paths", #{workers => 1, threads => 1,
                     args => ["--pythonpath", Pre, "--append-pythonpath", Post],
                     env => [{"VIRTUAL_ENV", false}]}),
             P#{root => Root, pre => Pre, post => Post}
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"--append-pythonpath: at the end, --pythonpath wins", fun append/1},
                 {"--venv: its modules and .pth, ahead of the system's", fun venv_flag/1},
                 {"VIRTUAL_ENV: used when it fits, ignored with a warning when not", fun venv_env/1},
                 {"--venv that is not a venv for this Python: refused", fun bad_venv/1}
             ], 90)
     end}.

append(#{node := N, post := Post}) ->
    ?assertEqual({ok, <<"append">>}, pycnode:eval(N, <<"__import__('appended_only_mod').WHERE">>, #{})),
    ?assertEqual({ok, <<"pythonpath">>}, pycnode:eval(N, <<"__import__('shadowed_mod').WHERE">>, #{})),
    %% After the standard library and every site-packages on sys.path;
    %% only pyrunner's root comes later.
    {ok, Path} = pycnode:eval(N, <<"__import__('sys').path">>, #{}),
    PostB = list_to_binary(Post),
    ?assertEqual(PostB, lists:nth(length(Path) - 1, Path)),
    {ok, Json} = pycnode:eval(N, <<"__import__('os').path.dirname(__import__('json').__path__[0])">>, #{}),
    ?assert(index(Json, Path) < index(PostB, Path)).

venv_flag(#{node := N, root := Root}) ->
    Venv = make_venv(N, filename:join(Root, "venv_flag")),
    P = pycnode_harness:start_pycnode("venv_flag", #{workers => 1, threads => 1, args => ["--venv", Venv],
                                                      env => [{"VIRTUAL_ENV", false}]}),
    try
        VN = maps:get(node, P),
        ?assertEqual({ok, <<"venv">>}, pycnode:eval(VN, <<"__import__('venv_only_mod').WHERE">>, #{})),
        ?assertEqual({ok, <<"pth">>}, pycnode:eval(VN, <<"__import__('pth_only_mod').WHERE">>, #{})),
        ?assertEqual({ok, <<"[1]">>}, pycnode:call(VN, json, dumps, [[1]])),
        %% Debian's packages: on the GIL build (Debian's python), flask.
        {ok, Stats} = pycnode:stats(VN),
        case maps:get(free_threaded, Stats) of
            false -> ?assertMatch({ok, _}, pycnode:eval(VN, <<"__import__('flask').__name__">>, #{}));
            true -> ok
        end,
        %% The venv's site-packages ahead of the system's.
        {ok, Path} = pycnode:eval(VN, <<"__import__('sys').path">>, #{}),
        {ok, System} = pycnode:eval(VN, <<"[p for p in __import__('site').getsitepackages() "
                                          "if p in __import__('sys').path]">>, #{}),
        Site = list_to_binary(site_packages(Venv)),
        [?assert(index(Site, Path) < index(S, Path)) || S <- System],
        ?assertEqual(1, pycnode_harness:log_count(P, "virtualenv .* \\(from --venv\\)"))
    after
        pycnode_harness:stop_pycnode(P)
    end.

venv_env(#{node := N, root := Root}) ->
    Venv = make_venv(N, filename:join(Root, "venv_env")),
    P = pycnode_harness:start_pycnode("venv_env", #{workers => 1, threads => 1,
                                                    env => [{"VIRTUAL_ENV", Venv}]}),
    try
        ?assertEqual({ok, <<"venv">>}, pycnode:eval(maps:get(node, P), <<"__import__('venv_only_mod').WHERE">>, #{})),
        ?assertEqual(1, pycnode_harness:log_count(P, "virtualenv .* \\(from VIRTUAL_ENV\\)"))
    after
        pycnode_harness:stop_pycnode(P)
    end,
    %% A venv of another Python version (as an activated shell of another
    %% project may leave behind): warned about, then ignored.
    Other = fake_venv(filename:join(Root, "venv_other"), "python2.7"),
    Q = pycnode_harness:start_pycnode("venv_other", #{workers => 1, threads => 1,
                                                      env => [{"VIRTUAL_ENV", Other}]}),
    try
        ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                     pycnode:eval(maps:get(node, Q), <<"__import__('venv_only_mod').WHERE">>, #{})),
        ?assertEqual(1, pycnode_harness:log_count(Q, "VIRTUAL_ENV ignored: .* not a virtualenv for Python")),
        ?assertEqual(0, pycnode_harness:log_count(Q, "virtualenv .* \\(from"))
    after
        pycnode_harness:stop_pycnode(Q)
    end.

bad_venv(#{root := Root}) ->
    NotVenv = filename:join(Root, "not_a_venv"),
    ok = filelib:ensure_dir(filename:join(NotVenv, "x")),
    {S1, O1} = run_binary(["--venv", NotVenv]),
    ?assertNotEqual(0, S1),
    ?assertMatch({match, _}, re:run(O1, "cannot start: --venv .*not_a_venv: .* is not a virtualenv: it has no pyvenv.cfg")),
    Other = fake_venv(filename:join(Root, "venv_bad_version"), "python2.7"),
    {S2, O2} = run_binary(["--venv", Other]),
    ?assertNotEqual(0, S2),
    ?assertMatch({match, _}, re:run(O2, "is not a virtualenv for Python [0-9.]+: no .*site-packages \\(it has lib/python2.7\\)")),
    {S3, O3} = run_binary(["--venv", filename:join(Root, "no_such_dir")]),
    ?assertNotEqual(0, S3),
    ?assertMatch({match, _}, re:run(O3, "no_such_dir is not a directory")).

%% --- helpers ---------------------------------------------------------------

%% A venv made by the python whose library pycnode N embeds (its sys.executable
%% is pycnode itself, hence BINDIR), with one module and a .pth file.
make_venv(N, Dir) ->
    {ok, Python} = pycnode:eval(N, <<"'%s/python%d.%d%s' % (__import__('sysconfig').get_config_var('BINDIR'), "
                                     "*__import__('sys').version_info[:2], "
                                     "'t' if __import__('sysconfig').get_config_var('Py_GIL_DISABLED') else '')">>,
                                #{}),
    Cmd = lists:flatten(io_lib:format("~s -m venv --system-site-packages --without-pip ~s 2>&1; echo $?",
                                      [Python, Dir])),
    Out = os:cmd(Cmd),
    ?assertEqual("0", lists:last(string:lexemes(Out, "\n")), Out),
    Site = site_packages(Dir),
    write(Site, "venv_only_mod.py", "WHERE = 'venv'\n"),
    Extra = filename:join(Dir, "pth_extra"),
    write(Extra, "pth_only_mod.py", "WHERE = 'pth'\n"),
    write(Site, "pycnode_test.pth", Extra ++ "\n"),
    Dir.

site_packages(Venv) ->
    [Site] = filelib:wildcard(filename:join(Venv, "lib/python*/site-packages")),
    Site.

%% Looks like a venv (pyvenv.cfg and a site-packages) for another version.
fake_venv(Dir, LibName) ->
    write(Dir, "pyvenv.cfg", "home = /nowhere\ninclude-system-site-packages = false\n"),
    ok = filelib:ensure_dir(filename:join([Dir, "lib", LibName, "site-packages", "x"])),
    write(filename:join([Dir, "lib", LibName, "site-packages"]), "venv_only_mod.py", "WHERE = 'other'\n"),
    Dir.

index(X, List) ->
    length(lists:takewhile(fun(Y) -> Y =/= X end, List)) + 1.

write(Dir, Name, Text) ->
    File = filename:join(Dir, Name),
    ok = filelib:ensure_dir(File),
    ok = file:write_file(File, Text).

%% Runs the binary to completion (it must stop before registering), without
%% VIRTUAL_ENV, and returns its exit status and output.
run_binary(Args) ->
    Name = "pyc_paths_fail_" ++ integer_to_list(erlang:unique_integer([positive])),
    Cmd = lists:flatten(["env -u VIRTUAL_ENV ", os:getenv("PYCNODE_BINARY"), " --sname ", Name,
                         " --cookie-file ", os:getenv("PYCNODE_COOKIE_FILE"),
                         [[" ", A] || A <- Args], " 2>&1 </dev/null; echo \"exit=$?\""]),
    Output = os:cmd("timeout 20 sh -c '" ++ Cmd ++ "'"),
    {match, [Status]} = re:run(Output, "exit=([0-9]+)", [{capture, all_but_first, list}]),
    {list_to_integer(Status), Output}.
