%% When Python code ends the whole process (docs/reliability.md): os._exit
%% and a crash in C code (a segmentation fault through ctypes, a stack
%% overflow in an extension), from a sync call on a blocking thread and from
%% a request's task on an event worker. Each test starts its own pycnode,
%% puts calls in flight (two async calls waiting on the event loop, a
%% blocking call on a blocking thread), makes one request crash the process
%% and checks:
%%   - the exit status: the os._exit status, or 128 + 11 (SIGSEGV);
%%   - the log names the request that crashed it, with its caller's node,
%%     and the requests the other threads were running; for a signal, the
%%     Python traceback (faulthandler) is there too;
%%   - every caller with a call in flight gets its error at once
%%     ({error, {nodedown, Node}} from the client; an exit {nodedown, Node}
%%     from a raw gen_server:call), long before its timeout.
-module(pycnode_crash_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"crash_fixtures">>).
-define(CALL_TIMEOUT, 30000).  % every call's timeout: an error after it would be a timeout
-define(PROMPT, 5000).         % bounds "at once": the error comes long before the timeout
-define(WAIT, 15000).          % bounds a wait for a state that fails to come
-define(NAP, 60).              % seconds the calls in flight would wait

crash_test_() ->
    {inorder, [
        {"os._exit(7) in a sync call", {timeout, 60, fun exit_in_sync_call/0}},
        {"os._exit(9) in an async call's task", {timeout, 60, fun exit_in_async_task/0}},
        {"segfault in a sync call", {timeout, 60, fun segfault_in_sync_call/0}},
        {"segfault in an ASGI request's task", {timeout, 60, fun segfault_in_asgi_task/0}},
        {"stack overflow in a C extension", {timeout, 90, fun stack_overflow/0}}
    ]}.

exit_in_sync_call() ->
    with_pycnode("exit_sync", [], fun(P, N) ->
        Outcome = crash_with_calls_in_flight(P, fun() -> call(N, exit_now, [7]) end),
        ?assertEqual({exited, 7}, Outcome),
        ?assertEqual(1, count(P, ["os._exit\\(7\\) called while running call crash_fixtures.exit_now from node ",
                                  caller(), ", at .*crash_fixtures.py:[0-9]+ in exit_now; ",
                                  "the process exits with status 7"]))
    end).

%% The call waits once before os._exit: it runs in a step of its task on
%% the event loop, which must still name it.
exit_in_async_task() ->
    with_pycnode("exit_async", [], fun(P, N) ->
        Outcome = crash_with_calls_in_flight(P, fun() -> call(N, exit_after_wait, [9]) end),
        ?assertEqual({exited, 9}, Outcome),
        ?assertEqual(1, count(P, ["os._exit\\(9\\) called while running call crash_fixtures.exit_after_wait ",
                                  "from node ", caller(), ", at .*crash_fixtures.py:[0-9]+ in exit_after_wait"]))
    end).

segfault_in_sync_call() ->
    with_pycnode("segv_sync", [], fun(P, N) ->
        Outcome = crash_with_calls_in_flight(P, fun() -> call(N, segfault, []) end),
        ?assertEqual({exited, 128 + 11}, Outcome),
        ?assertEqual(1, count(P, ["pycnode error +fatal signal 11 \\(SIGSEGV\\) in thread pythread-[0-9]+ ",
                                  "while running call crash_fixtures.segfault from node ", caller(), "$"])),
        %% The blocking call in flight on the other thread, and the two
        %% async calls waiting on the event worker's loop (the worker is
        %% idle, or still finishing the hand-over of the segfault call).
        ?assertEqual(1, count(P, ["thread pythread-[0-9]+ was running call crash_fixtures.block from node ",
                                  caller()])),
        ?assertEqual(1, count(P, ["thread pyworker-0 was (idle|running call crash_fixtures.segfault .*); ",
                                  "requests in flight on its event loop: 2$"])),
        ?assertEqual(1, count(P, ["pycnode ends with signal 11; requests in flight: 4 "])),
        assert_python_traceback(P, "segfault")
    end).

%% The app waits once before it crashes: the crash happens in a step of its
%% task on the event loop.
segfault_in_asgi_task() ->
    with_pycnode("segv_asgi", [], fun(P, N) ->
        Outcome = crash_with_calls_in_flight(P, fun() ->
            py_asgi:run(crash_fixtures, app, #{path => <<"/segfault">>}, <<>>,
                        #{node => N, timeout => ?CALL_TIMEOUT})
        end),
        ?assertEqual({exited, 128 + 11}, Outcome),
        ?assertEqual(1, count(P, ["fatal signal 11 \\(SIGSEGV\\) in thread pyworker-0 while running ",
                                  "asgi GET /segfault \\(crash_fixtures:app\\) from node ", caller(),
                                  "; requests in flight on its event loop: 3$"])),
        ?assertEqual(1, count(P, ["thread pythread-[0-9]+ was running call crash_fixtures.block"])),
        assert_python_traceback(P, "app")
    end).

%% The handler runs on an alternate stack: a full stack does not silence it.
stack_overflow() ->
    Probe = pycnode_harness:start_pycnode("crash_overflow_probe", #{workers => 1}),
    Dir = try compile_overflow(maps:get(node, Probe))
          after pycnode_harness:stop_pycnode(Probe)
          end,
    with_pycnode("overflow", ["--pythonpath", Dir], fun(P, N) ->
        Outcome = crash_with_calls_in_flight(P, fun() ->
            pycnode:call(N, overflow, recurse, [], #{timeout => ?CALL_TIMEOUT})
        end),
        ?assertEqual({exited, 128 + 11}, Outcome),
        ?assertEqual(1, count(P, ["fatal signal 11 \\(SIGSEGV\\) in thread pythread-[0-9]+ ",
                                  "while running call overflow.recurse from node ", caller()])),
        ?assertEqual(1, count(P, ["Fatal Python error: Segmentation fault"]))
    end).

%% --- helpers ---------------------------------------------------------------

%% Runs Fun(P, Node) against a pycnode of its own (1 event worker, 2
%% blocking threads), which Fun is expected to crash; prints its log if Fun
%% fails, and ends it in any case.
with_pycnode(Label, Args, Fun) ->
    Dir = filename:join([os:getenv("PYCNODE_TEST_DIR"), "crash", Label]),
    P = pycnode_harness:start_pycnode("crash_" ++ Label, #{workers => 1, threads => 2, args => Args, cd => Dir}),
    try
        pycnode_harness:run_logged(P, fun() -> Fun(P, maps:get(node, P)) end)
    after
        pycnode_harness:discard_pycnode(P)
    end.

%% Puts three calls in flight and waits until all three run, then calls
%% Crash(), which must crash the process. Checks that Crash's own call and
%% every call in flight got their error within ?PROMPT ms, and returns how
%% the process ended.
crash_with_calls_in_flight(#{node := N} = P, Crash) ->
    Self = self(),
    Client = fun(F) -> spawn_link(fun() -> Self ! {in_flight, self(), call(N, F, [?NAP])} end) end,
    Raw = spawn_link(fun() ->
                             Request = {call, ?FIX, <<"block">>, [?NAP]},
                             Self ! {in_flight, self(), catch gen_server:call({pycnode, N}, Request, ?CALL_TIMEOUT)}
                     end),
    Naps = [Client(nap), Client(nap)],
    ?assertEqual(true, pycnode_harness:wait_until(fun() -> all_started(N) end, ?WAIT, 20)),
    Start = erlang:monotonic_time(millisecond),
    ?assertEqual({error, {nodedown, N}}, Crash()),
    [receive
         {in_flight, Pid, Result} -> ?assertEqual({error, {nodedown, N}}, Result)
     after ?PROMPT -> erlang:error({no_answer_at_once, Pid})
     end || Pid <- Naps],
    receive
        {in_flight, Raw, RawResult} -> ?assertMatch({'EXIT', {{nodedown, N}, _}}, RawResult)
    after ?PROMPT -> erlang:error({no_answer_at_once, raw_gen_server_call})
    end,
    ?assert(erlang:monotonic_time(millisecond) - Start < ?PROMPT),
    pycnode_harness:await_exit(P, ?WAIT).

all_started(N) ->
    case call(N, started, []) of
        {ok, Started} -> lists:sort(Started) =:= [<<"block">>, <<"nap">>, <<"nap">>];
        _ -> false
    end.

call(N, Function, Args) ->
    pycnode:call(N, ?FIX, Function, Args, #{timeout => ?CALL_TIMEOUT}).

%% faulthandler's dump, with the crashing function in it.
assert_python_traceback(P, Function) ->
    ?assertEqual(1, count(P, ["^Fatal Python error: Segmentation fault$"])),
    ?assert(count(P, ["^Current thread 0x[0-9a-f]+ \\(most recent call first\\):$"]) +
            count(P, ["^Thread 0x[0-9a-f]+ \\(most recent call first\\):$"]) >= 2),
    ?assertEqual(1, count(P, ["^  File \".*crash_fixtures.py\", line [0-9]+ in ", Function, "$"])).

count(P, Parts) ->
    pycnode_harness:log_count(P, lists:flatten(Parts)).

%% This node's name, as pycnode's log writes the caller's node.
caller() ->
    atom_to_list(node()).

%% Builds test/fixtures/ext/overflow.c for the interpreter pycnode embeds,
%% asking that interpreter (through pycnode) for its headers and suffix.
%% -O0: the recursion must stay a recursion.
compile_overflow(N) ->
    {ok, #{<<"include">> := Include}} = pycnode:call(N, sysconfig, get_paths, []),
    {ok, [Suffix | _]} = pycnode:call(N, '_imp', extension_suffixes, []),
    Dir = filename:join(os:getenv("PYCNODE_TEST_DIR"), "ext_overflow"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Source = filename:join([os:getenv("PYCNODE_FIXTURES"), "ext", "overflow.c"]),
    Target = filename:join(Dir, "overflow" ++ binary_to_list(Suffix)),
    Cmd = lists:flatten(io_lib:format("gcc -O0 -shared -fPIC -I~s ~s -o ~s 2>&1; echo $?",
                                      [Include, Source, Target])),
    Out = os:cmd(Cmd),
    ?assertEqual("0", lists:last(string:lexemes(Out, "\n")), Out),
    Dir.
