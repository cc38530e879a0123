%% Starts and stops what the integration tests need: pycnode processes (the
%% real binary, one per fixture group, each with its own node name), Erlang
%% peer nodes, and the helpers that run on those peers.
%%
%% run.sh sets the environment this module reads:
%%   PYCNODE_BINARY       the pycnode executable
%%   PYCNODE_COOKIE_FILE  the private cookie (the runner node uses it too)
%%   PYCNODE_FIXTURES     the directory holding pyc_fixtures.py
%%   PYCNODE_TEST_DIR     scratch directory: logs/ (pycnode logs) and
%%                        pids/ (one file per live OS process we started,
%%                        named by its pid, so run.sh can kill leftovers)
%%   ERL_EPMD_PORT        the private epmd, inherited by pycnode and peers
-module(pycnode_harness).

-export([start_pycnode/2, stop_pycnode/1, discard_pycnode/1, signal_pycnode/2, await_exit/2,
         pycnode_status/1, log/1, log_count/2, print_log/2,
         tests/2, tests/3, run_logged/2,
         start_peer/2, stop_peer/1, kill_peer/1, peer_call/4, peer_call/5,
         wait_until/3, cookie/0, host/0, listen_port/1,
         burst/3, calls_in_flight/3, idle_connection/3, rss_meaningful/0]).

-define(READY_TIMEOUT, 20000).
-define(STOP_TIMEOUT, 10000).
-define(LOG_TAIL, 200).

%% --- pycnode -------------------------------------------------------------

%% Starts the pycnode binary as `Label' (used in its unique node name) with
%% options `#{workers => N, threads => N, args => [string()], cd => Dir,
%% env => [{Name, Value | false}]}' (`cd': its working directory, where a
%% crash would leave a core file; default ours; `env': as open_port's, false
%% unsets) and waits for its "pycnode ready" line. Returns a handle map.
start_pycnode(Label, Opts) ->
    Sname = unique_name("pyc_" ++ Label),
    Node = list_to_atom(Sname ++ "@" ++ host()),
    Workers = maps:get(workers, Opts, 4),
    %% Blocking threads (sync calls, WSGI): as many as event workers unless
    %% told, so that tests of either kind see `workers' of concurrency.
    Threads = maps:get(threads, Opts, Workers),
    Args = ["--sname", Sname,
            "--cookie-file", env("PYCNODE_COOKIE_FILE"),
            "--pythonpath", env("PYCNODE_FIXTURES"),
            "--workers", integer_to_list(Workers),
            "--threads", integer_to_list(Threads),
            "--log-level", os:getenv("PYCNODE_TEST_LOG_LEVEL", "info")]
        ++ maps:get(args, Opts, []),
    LogFile = filename:join([env("PYCNODE_TEST_DIR"), "logs", Sname ++ ".log"]),
    ok = filelib:ensure_dir(LogFile),
    Starter = self(),
    PortOpts = case maps:find(cd, Opts) of
                   {ok, Dir} -> ok = filelib:ensure_dir(filename:join(Dir, "x")), [{cd, Dir}];
                   error -> []
               end ++ [{env, maps:get(env, Opts)} || maps:is_key(env, Opts)],
    {Owner, Mon} = spawn_monitor(fun() -> owner_init(Starter, env("PYCNODE_BINARY"), Args, PortOpts, LogFile) end),
    receive
        {'DOWN', Mon, process, Owner, Reason} ->
            erlang:error({pycnode_start_failed, Sname, Reason});
        {Owner, ready, OsPid} ->
            demonitor(Mon, [flush]),
            #{label => Label, node => Node, sname => Sname, owner => Owner,
              os_pid => OsPid, workers => Workers, log_file => LogFile};
        {Owner, failed, Why, Lines} ->
            demonitor(Mon, [flush]),
            io:format(user, "~n--- pycnode ~s failed to start (~p); its log:~n~s~n",
                      [Sname, Why, Lines]),
            erlang:error({pycnode_start_failed, Sname, Why})
    after ?READY_TIMEOUT ->
            demonitor(Mon, [flush]),
            Lines = owner_log(Owner),
            Stuck = #{owner => Owner, os_pid => owner_request(Owner, os_pid)},
            signal_pycnode(Stuck, "KILL"),
            _ = await_exit(Stuck, ?STOP_TIMEOUT),
            Owner ! stop,
            io:format(user, "~n--- pycnode ~s not ready after ~b ms; its log:~n~s~n",
                      [Sname, ?READY_TIMEOUT, Lines]),
            erlang:error({pycnode_not_ready, Sname})
    end.

%% Stops pycnode with SIGTERM (SIGKILL if it has not exited after 10 s) and
%% fails, printing its log, if it had died on its own or did not stop
%% cleanly: a test group must not hide a crash.
stop_pycnode(#{owner := Owner, sname := Sname} = P) ->
    Result = case pycnode_status(P) of
                 running ->
                     signal_pycnode(P, "TERM"),
                     case await_exit(P, ?STOP_TIMEOUT) of
                         {exited, 0} -> ok;
                         {exited, Status} -> {bad_exit_on_sigterm, Status};
                         timeout ->
                             signal_pycnode(P, "KILL"),
                             _ = await_exit(P, ?STOP_TIMEOUT),
                             did_not_stop_on_sigterm
                     end;
                 {exited, Status} ->
                     {died_during_tests, Status}
             end,
    Owner ! stop,
    case Result of
        ok -> ok;
        _ ->
            print_log(P, io_lib:format("stopping pycnode ~s: ~p", [Sname, Result])),
            erlang:error({pycnode_stop, Sname, Result})
    end.

%% Ends a pycnode that a test expected to die (crash tests): waits up to
%% 10 s for its exit, kills it if it is still running (then fails: it
%% should have died), and stops its owner either way. Returns
%% {exited, Status}, Status as a shell shows it (128 + N: killed by signal N).
discard_pycnode(#{owner := Owner, sname := Sname} = P) ->
    Result = case await_exit(P, ?STOP_TIMEOUT) of
                 {exited, _} = Exited -> Exited;
                 timeout ->
                     signal_pycnode(P, "KILL"),
                     _ = await_exit(P, ?STOP_TIMEOUT),
                     still_running
             end,
    Owner ! stop,
    case Result of
        still_running ->
            print_log(P, io_lib:format("pycnode ~s did not die", [Sname])),
            erlang:error({pycnode_still_running, Sname});
        _ ->
            Result
    end.

signal_pycnode(#{os_pid := OsPid}, Signal) ->
    _ = os:cmd("kill -" ++ Signal ++ " " ++ integer_to_list(OsPid) ++ " 2>/dev/null"),
    ok.

%% Waits for pycnode's exit: {exited, Status} | timeout.
await_exit(P, Timeout) ->
    wait_until(fun() ->
                       case pycnode_status(P) of
                           running -> false;
                           Exited -> {true, Exited}
                       end
               end, Timeout, 20).

pycnode_status(#{owner := Owner}) ->
    owner_request(Owner, status).

%% pycnode's output so far, as one iolist of lines.
log(#{owner := Owner}) ->
    owner_log(Owner).

%% How many log lines so far contain Pattern (case-insensitive).
log_count(P, Pattern) ->
    Lines = owner_request(maps:get(owner, P), lines),
    Re = unicode:characters_to_binary(Pattern),
    length([L || L <- Lines, re:run(L, Re, [caseless]) =/= nomatch]).

print_log(#{sname := Sname} = P, Why) ->
    Lines = owner_request(maps:get(owner, P), lines),
    Tail = lists:nthtail(max(0, length(Lines) - ?LOG_TAIL), Lines),
    io:format(user, "~n--- ~s~n--- pycnode ~s log (last ~b of ~b lines; all in ~s):~n~s--- end of log~n",
              [Why, Sname, length(Tail), length(Lines), maps:get(log_file, P),
               [[L, $\n] || L <- Tail]]).

%% The port pycnode listens on, as epmd reports it.
listen_port(#{sname := Sname}) ->
    {port, Port, _Version} = erl_epmd:port_please(Sname, host()),
    Port.

owner_init(Starter, Binary, Args, PortOpts, LogFile) ->
    {ok, Log} = file:open(LogFile, [write, raw, binary]),
    ok = file:write(Log, [Binary, [[" ", A] || A <- Args], $\n]),
    Port = try open_port({spawn_executable, Binary},
                         [{args, Args}, exit_status, stderr_to_stdout, binary, {line, 65536} | PortOpts])
           catch error:Reason ->
                   Starter ! {self(), failed, {open_port, Reason, Binary}, []},
                   exit(normal)
           end,
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    PidFile = pid_file(OsPid),
    ok = file:write_file(PidFile, Binary),
    owner_loop(#{starter => Starter, port => Port, os_pid => OsPid, log => Log,
                 pid_file => PidFile, lines => [], partial => <<>>,
                 ready => false, status => running}).

owner_loop(#{port := Port} = S) ->
    receive
        {Port, {data, {noeol, Part}}} ->
            owner_loop(S#{partial := <<(maps:get(partial, S))/binary, Part/binary>>});
        {Port, {data, {eol, Part}}} ->
            Line = <<(maps:get(partial, S))/binary, Part/binary>>,
            ok = file:write(maps:get(log, S), [Line, $\n]),
            S1 = S#{partial := <<>>, lines := [Line | maps:get(lines, S)]},
            owner_loop(maybe_ready(Line, S1));
        {Port, {exit_status, Status}} ->
            _ = file:delete(maps:get(pid_file, S)),
            case maps:get(ready, S) of
                false -> maps:get(starter, S) ! {self(), failed, {exit_status, Status}, lines(S)};
                true -> ok
            end,
            owner_loop(S#{status := {exited, Status}, ready := true});
        {From, Ref, status} ->
            From ! {Ref, maps:get(status, S)},
            owner_loop(S);
        {From, Ref, os_pid} ->
            From ! {Ref, maps:get(os_pid, S)},
            owner_loop(S);
        {From, Ref, lines} ->
            From ! {Ref, lists:reverse(maps:get(lines, S))},
            owner_loop(S);
        stop ->
            file:close(maps:get(log, S))
    end.

maybe_ready(_Line, #{ready := true} = S) ->
    S;
maybe_ready(Line, S) ->
    case binary:match(Line, <<"pycnode ready">>) of
        nomatch -> S;
        _ ->
            maps:get(starter, S) ! {self(), ready, maps:get(os_pid, S)},
            S#{ready := true}
    end.

lines(S) ->
    [[L, $\n] || L <- lists:reverse(maps:get(lines, S))].

owner_log(Owner) ->
    [[L, $\n] || L <- owner_request(Owner, lines)].

owner_request(Owner, What) ->
    Ref = monitor(process, Owner),
    Owner ! {self(), Ref, What},
    receive
        {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
        {'DOWN', Ref, process, Owner, Reason} -> erlang:error({log_owner_down, Reason})
    after 5000 -> erlang:error(log_owner_timeout)
    end.

%% Whether pycnode's RSS says anything about its own memory use: not under
%% AddressSanitizer (make sanitize), whose quarantine holds freed memory and
%% whose redzones pad every allocation. The RSS checks run in the plain
%% builds of `make test'.
rss_meaningful() ->
    os:getenv("PYCNODE_SANITIZER_CHECK") =/= "1".

%% --- EUnit helpers -------------------------------------------------------

%% Turns [{Title, fun(P) -> ... end}] into EUnit tests against the pycnode
%% P; a failing test prints the tail of P's log before failing.
tests(P, Cases) ->
    tests(P, Cases, 30).

tests(P, Cases, TimeoutS) ->
    [{Title, {timeout, TimeoutS, fun() -> run_logged(P, fun() -> Fun(P) end) end}}
     || {Title, Fun} <- Cases].

run_logged(P, Fun) ->
    try
        Fun()
    catch
        Class:Reason:Stack ->
            print_log(P, io_lib:format("test failed: ~P", [Reason, 30])),
            erlang:raise(Class, Reason, Stack)
    end.

%% --- peers ---------------------------------------------------------------

%% Starts an Erlang peer node with the client's and the tests' code on its
%% path. Opts: cookie (default the private one), args (extra erl args),
%% connection (standard_io for a peer that must not connect to this node,
%% e.g. one with another cookie or net_ticktime). Returns a handle map.
start_peer(Label, Opts) ->
    Name = unique_name("peer_" ++ Label),
    Args = ["-setcookie", maps:get(cookie, Opts, cookie()),
            "-pa", filename:dirname(code:which(pycnode)),
            "-pa", filename:dirname(code:which(?MODULE))]
        ++ maps:get(args, Opts, []),
    Connection = maps:get(connection, Opts, dist),
    PeerOpts0 = #{name => Name, args => Args, wait_boot => 30000},
    PeerOpts = case Connection of
                   dist -> PeerOpts0;
                   standard_io -> PeerOpts0#{connection => standard_io}
               end,
    {ok, Peer, Node} = peer:start(PeerOpts),
    H = #{peer => Peer, node => Node, connection => Connection},
    OsPid = peer_call(H, os, getpid, []),
    ok = file:write_file(pid_file(list_to_integer(OsPid)), <<"peer">>),
    H#{os_pid => list_to_integer(OsPid)}.

stop_peer(#{peer := Peer, os_pid := OsPid}) ->
    try peer:stop(Peer) catch exit:_ -> ok end,
    _ = file:delete(pid_file(OsPid)),
    ok.

%% Kills the peer's OS process outright: its sockets close without any
%% distribution-level goodbye.
kill_peer(#{os_pid := OsPid} = H) ->
    _ = os:cmd("kill -KILL " ++ integer_to_list(OsPid)),
    stop_peer(H).

peer_call(H, M, F, A) ->
    peer_call(H, M, F, A, 30000).

peer_call(#{connection := dist, node := Node}, M, F, A, Timeout) ->
    erpc:call(Node, M, F, A, Timeout);
peer_call(#{connection := standard_io, peer := Peer}, M, F, A, Timeout) ->
    peer:call(Peer, M, F, A, Timeout).

%% --- functions that run on peers -----------------------------------------

%% Makes N concurrent calls to PycNode from N processes (released together),
%% each with its own arguments, and returns {Answered, Wrong}: how many came
%% back and the ones that were not the expected reply.
burst(PycNode, PeerIndex, N) ->
    Self = self(),
    Go = make_ref(),
    Pids = [spawn_link(fun() ->
                               receive Go -> ok end,
                               {Expected, Got} = burst_call(PycNode, PeerIndex, I),
                               Self ! {burst, I, Expected, Got}
                       end) || I <- lists:seq(1, N)],
    [Pid ! Go || Pid <- Pids],
    Results = [receive {burst, I, E, G} -> {I, E, G} after 60000 -> {I, no_answer, timeout} end
               || I <- lists:seq(1, N)],
    {length(Results), [R || {_, E, G} = R <- Results, E =/= G]}.

burst_call(PycNode, PeerIndex, I) when I rem 2 =:= 0 ->
    Term = {peer, PeerIndex, I, <<"payload-", (integer_to_binary(I))/binary>>, [I, -I, I * 1.5]},
    {{ok, Term}, pycnode:call(PycNode, pyc_fixtures, echo, [Term], #{timeout => 60000})};
burst_call(PycNode, PeerIndex, I) ->
    A = PeerIndex * 1000000 + I,
    B = (1 bsl 40) + I,
    {{ok, A + B}, pycnode:call(PycNode, pyc_fixtures, add, [A, B], #{timeout => 60000})}.

%% Sends N slow(Ms) requests to PycNode and returns without waiting for
%% the replies (the disconnect tests then cut the connection).
calls_in_flight(PycNode, N, Ms) ->
    [gen_server:send_request({pycnode, PycNode}, {call, <<"pyc_fixtures">>, <<"slow">>, [Ms]})
     || _ <- lists:seq(1, N)],
    ok.

%% Connects to PycNode, stays idle for IdleMs and reports what happened to
%% the connection: nodedown/nodeup messages seen while idle, the connection
%% id before and after, and the answers to calls before and after.
idle_connection(PycNode, IdleMs, Term) ->
    ok = net_kernel:monitor_nodes(true, [{node_type, all}]),
    Ping = net_adm:ping(PycNode),
    Before = pycnode:call(PycNode, pyc_fixtures, echo, [Term]),
    IdBefore = connection_id(PycNode),
    flush_node_events(),
    timer:sleep(IdleMs),
    Events = flush_node_events(),
    IdAfter = connection_id(PycNode),
    After = pycnode:call(PycNode, pyc_fixtures, echo, [Term]),
    #{ping => Ping, before => Before, 'after' => After, events => Events,
      id_before => IdBefore, id_after => IdAfter,
      ticktime => net_kernel:get_net_ticktime()}.

connection_id(Node) ->
    Nodes = erlang:nodes(connected, #{connection_id => true}),
    case lists:keyfind(Node, 1, Nodes) of
        {Node, #{connection_id := Id}} -> Id;
        false -> not_connected
    end.

flush_node_events() ->
    receive
        {nodeup, _, _} = E -> [E | flush_node_events()];
        {nodedown, _, _} = E -> [E | flush_node_events()]
    after 0 -> []
    end.

%% --- misc ----------------------------------------------------------------

%% Polls Fun every IntervalMs until it returns true or {true, Value};
%% returns true/Value, or timeout.
wait_until(Fun, Timeout, IntervalMs) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_loop(Fun, Deadline, IntervalMs).

wait_loop(Fun, Deadline, IntervalMs) ->
    case Fun() of
        true -> true;
        {true, Value} -> Value;
        _ ->
            case erlang:monotonic_time(millisecond) >= Deadline of
                true -> timeout;
                false -> timer:sleep(IntervalMs), wait_loop(Fun, Deadline, IntervalMs)
            end
    end.

cookie() ->
    {ok, Bin} = file:read_file(env("PYCNODE_COOKIE_FILE")),
    string:trim(binary_to_list(Bin)).

host() ->
    lists:last(string:split(atom_to_list(node()), "@")).

unique_name(Prefix) ->
    lists:flatten(io_lib:format("~s_~s_~b", [Prefix, os:getpid(), erlang:unique_integer([positive])])).

pid_file(OsPid) ->
    File = filename:join([env("PYCNODE_TEST_DIR"), "pids", integer_to_list(OsPid)]),
    ok = filelib:ensure_dir(File),
    File.

env(Name) ->
    case os:getenv(Name) of
        false -> erlang:error({missing_environment_variable, Name});
        Value -> Value
    end.
