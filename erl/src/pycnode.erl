%% @doc Calls Python functions on a pycnode node.
%%
%% pycnode is a C-node: it serves `gen_server' calls sent to its registered
%% name (default `pycnode') on its node. This module wraps those calls and
%% turns the ways a call can fail into `{error, Reason}' values:
%%
%% ```
%% 1> pycnode:ping('pycnode@myhost').
%% pong
%% 2> pycnode:call('pycnode@myhost', math, factorial, [30]).
%% {ok,265252859812191058636308480000000}
%% 3> pycnode:call('pycnode@myhost', json, loads, [<<"{">>], #{timeout => 1000}).
%% {error,{python,<<"JSONDecodeError">>,<<"Expecting ...">>,<<"Traceback ...">>}}
%% '''
%%
%% Calls with a finite timeout run the `gen_server' call in a short-lived
%% helper process: pycnode, like every C-node, sends its replies to the
%% caller's pid (it cannot use process aliases), so a reply that arrives after
%% the timeout would otherwise land in the caller's mailbox. With the helper
%% it goes to a process that no longer exists and is dropped.
%%
%% Defaults come from the application environment (`node', `name',
%% `timeout'); the application need not be started for them to apply, only
%% loaded, and the built-in defaults are used when it is not.
-module(pycnode).

-export([ping/1, ping/2, stats/1, stats/2, health/1, health/2, call/4, call/5, request/3, default_node/0]).
-export([wire_timeout/1, send/3]).

-export([check/1, check/2]).
-export([eval/3, eval/4, exec/3, exec/4, reload/2, reload/3]).
-export([call_method/3, call_method/4, getattr/2, getattr/3, release/1, release/2, is_handle/1]).

-export_type([opts/0, name/0, error_reason/0, check_error/0, handle/0]).

-define(DEFAULT_NAME, pycnode).
-define(DEFAULT_TIMEOUT, 5000).

-type opts() :: #{timeout => timeout(), name => atom(),
                  kwargs => #{atom() | binary() => term()} | [{atom() | binary(), term()}],
                  strings => bytes | str, nil => atom | none, result => term | handle}.
%% Per-call options. `timeout': milliseconds (or `infinity') to wait for the
%% reply, default the application's `timeout' (5000); {@link call/5},
%% {@link py_asgi} and {@link py_wsgi} send a finite one along as the
%% request's deadline on pycnode. `name': the name
%% pycnode registered (its `--register' option), default the application's
%% `name' (`pycnode'). For {@link call/5} only: `kwargs', keyword
%% arguments (`Function(*Args, **Kwargs)'); `strings => str', binaries
%% arrive as Python `str' (UTF-8) instead of `bytes'; `nil => none', the
%% atom `nil' is `None' and `None' comes back as `nil' (docs/terms.md). Their
%% defaults are pycnode's `--strings' and `--nil' (bytes, atom). `result =>
%% handle': the result stays in Python and the call returns a {@link
%% handle()} to it, owned by the calling process (docs/protocol.md).

-type handle() :: {'$pycnode_handle', reference()}.
%% A Python object kept on pycnode for the process that received it: it
%% lives until {@link release/2} or until that process exits. Made by calls
%% with `result => handle'; pass it as an argument (Python gets the object
%% itself), call its methods ({@link call_method/4}), read its attributes
%% ({@link getattr/3}). Use it as an opaque value.

-type name() :: binary() | atom() | string().
%% A Python module or function name; sent to pycnode as a UTF-8 binary.
%% The function may be a dotted path (`<<"Decoder.decode">>').

-type error_reason() ::
        timeout
      | {nodedown, node()}
      | {exit, term()}
      | overloaded
      | {python, Type :: binary(), Message :: binary(), Traceback :: binary()}
      | {bad_result, binary()}
      | {bad_request, binary()}
      | {bad_handle, binary()}
      | {packet_too_large, non_neg_integer(), non_neg_integer()}
      | {unexpected_reply, term()}
      | {badarg, pycnode_args:what()}.
%% Why a request failed. `timeout', `{nodedown, Node}' and `{exit, Reason}'
%% come from the call itself (no reply in time, the node is unreachable or
%% went down, any other exit of `gen_server:call/3'); `{unexpected_reply, R}'
%% is a reply this client does not know; the others are pycnode's own
%% `{error, Reason}' replies (see docs/protocol.md). `{badarg, What}': an
%% argument or option that is not what it must be, found before anything
%% was sent; `What' names it (`node', `args', `timeout'...). When pycnode's process
%% dies (Python code called `os._exit', or crashed in a C extension), every
%% call in flight on it returns `{nodedown, Node}' as soon as the connection
%% closes, long before its timeout (docs/reliability.md).

-type check_error() ::
        {bad_node_name, term()}
      | {epmd_unreachable, Host :: atom()}
      | {not_registered, Alive :: atom(), Host :: atom()}
      | {port_unreachable, inet:port_number(), inet:posix() | timeout}
      | not_distributed
      | handshake_refused
      | {not_serving, error_reason()}.
%% What {@link check/2} found wrong, in the order it looks: the node name,
%% epmd on its host, the name registered there, the listen port, this node
%% being distributed, the handshake (refused between nodes that reach each
%% other: most likely a different cookie), a `ping' to the registered name.

%% @equiv check(Node, #{})
-spec check(node()) -> ok | {error, check_error()}.
check(Node) ->
    check(Node, #{}).

%% @doc Says whether pycnode on `Node' answers, and if not, why: `ok', or
%% the first thing found wrong (see {@link check_error()}).
-spec check(node(), opts()) -> ok | {error, check_error() | {badarg, node | opts | pycnode_args:what()}}.
check(Node, Opts) ->
    checked([{node, Node}, {opts, Opts}], fun() -> pycnode_check:check(Node, Opts) end).

%% @equiv eval(Node, Expression, Bindings, #{})
-spec eval(node(), iodata(), map()) -> {ok, term()} | {error, error_reason()}.
eval(Node, Expression, Bindings) ->
    eval(Node, Expression, Bindings, #{}).

%% @doc The value of the Python expression `Expression' (UTF-8), evaluated
%% in the namespace `namespace' of `Opts' (default `default'; a dict per
%% name, kept on pycnode and created on first use) after the `Bindings'
%% (a map of names, atoms or binaries, to values) are assigned in it. Other
%% options are those of {@link call/5}.
-spec eval(node(), iodata(), map(), opts() | #{namespace => name()}) -> {ok, term()} | {error, error_reason()}.
eval(Node, Expression, Bindings, Opts) ->
    checked([{node, Node}, {expression, Expression}, {bindings, Bindings}, {opts, Opts}],
            fun() -> code_call(Node, evaluate, Expression, Bindings, Opts) end).

%% @equiv exec(Node, Statements, Bindings, #{})
-spec exec(node(), iodata(), map()) -> ok | {error, error_reason()}.
exec(Node, Statements, Bindings) ->
    exec(Node, Statements, Bindings, #{}).

%% @doc Runs the Python statements `Statements' in a namespace, as
%% {@link eval/4} evaluates an expression; later `eval' and `exec' calls on
%% that namespace see what they defined.
-spec exec(node(), iodata(), map(), opts() | #{namespace => name()}) -> ok | {error, error_reason()}.
exec(Node, Statements, Bindings, Opts) ->
    checked([{node, Node}, {statements, Statements}, {bindings, Bindings}, {opts, Opts}],
            fun() ->
                    case code_call(Node, execute, Statements, Bindings, Opts) of
                        {ok, _} -> ok;
                        Error -> Error
                    end
            end).

%% @equiv reload(Node, Module, #{})
-spec reload(node(), name()) -> {ok, [binary()]} | {error, error_reason()}.
reload(Node, Module) ->
    reload(Node, Module, #{}).

%% @doc Reloads the Python module `Module' on `Node' (`importlib.reload'),
%% or with `prefix => true' every loaded module under it; every worker then
%% resolves the functions it cached again. Returns the modules reloaded.
-spec reload(node(), name(), opts() | #{prefix => boolean()}) -> {ok, [binary()]} | {error, error_reason()}.
reload(Node, Module, Opts) ->
    checked([{node, Node}, {module, Module}, {opts, Opts}],
            fun() ->
                    Prefix = maps:get(prefix, Opts, false),
                    call(Node, <<"pyrunner.code">>, <<"reload">>, [to_binary(Module), Prefix],
                         maps:merge(maps:without([prefix], Opts), #{strings => str}))
            end).

%% @equiv ping(Node, #{})
-spec ping(node()) -> pong | {error, error_reason()}.
ping(Node) ->
    ping(Node, #{}).

%% @doc Asks pycnode on `Node' for `pong'. The request is answered by
%% pycnode's network thread without touching Python, so it measures the
%% distribution round trip only.
-spec ping(node(), opts()) -> pong | {error, error_reason()}.
ping(Node, Opts) ->
    case request(Node, ping, Opts) of
        pong -> pong;
        {error, _} = Error -> Error;
        Other -> {error, {unexpected_reply, Other}}
    end.

%% @equiv stats(Node, #{})
-spec stats(node()) -> {ok, map()} | {error, error_reason()}.
stats(Node) ->
    stats(Node, #{}).

%% @doc Returns pycnode's counters: `uptime_ms', `connected_peers', `peers',
%% `requests_served', `requests_failed', `requests_in_flight',
%% `queue_length', `workers', `python_version', `free_threaded',
%% `gil_enabled' and more (docs/protocol.md lists them all).
-spec stats(node(), opts()) -> {ok, map()} | {error, error_reason()}.
stats(Node, Opts) ->
    case request(Node, stats, Opts) of
        {ok, Stats} = Reply when is_map(Stats) -> Reply;
        {error, _} = Error -> Error;
        Other -> {error, {unexpected_reply, Other}}
    end.

%% @equiv health(Node, #{})
-spec health(node()) -> {ok, map()} | {error, error_reason()}.
health(Node) ->
    health(Node, #{}).

%% @doc Says whether pycnode on `Node' can take work: `healthy' is false
%% when every event worker or every blocking thread is stuck past a
%% request's deadline and not replaced (docs/protocol.md, "health").
%% Answered by pycnode's network thread, like {@link ping/2}, which answers
%% `pong' even then.
-spec health(node(), opts()) -> {ok, map()} | {error, error_reason()}.
health(Node, Opts) ->
    case request(Node, health, Opts) of
        {ok, #{healthy := Healthy} = Health} = Reply when is_boolean(Healthy), is_map(Health) -> Reply;
        {error, _} = Error -> Error;
        Other -> {error, {unexpected_reply, Other}}
    end.

%% @equiv call(Node, Module, Function, Args, #{})
-spec call(node(), name(), name(), list()) -> {ok, term()} | {error, error_reason()}.
call(Node, Module, Function, Args) ->
    call(Node, Module, Function, Args, #{}).

%% @doc Calls `Module.Function(*Args)' in Python on `Node'.
%%
%% The arguments and the result are converted as docs/terms.md describes
%% (binaries are `bytes', Python `str' comes back as a binary, atoms other
%% than `true', `false' and `undefined' are `pyrunner.Atom' strings...).
%% A Python exception is returned as `{error, {python, Type, Message,
%% Traceback}}'. `{error, {badarg, What}}' if an argument (`node',
%% `module', `function', `args', `opts') or an option (`timeout',
%% `kwargs'...) is not what it must be; nothing is sent then.
%%
%% A finite `timeout' is also sent to pycnode as the request's deadline:
%% past it pycnode stops waiting for an async function, and counts a
%% thread still running a sync one as stuck (docs/protocol.md).
-spec call(node(), name(), name(), list(), opts()) -> {ok, term()} | {error, error_reason()}.
call(Node, Module, Function, Args, Opts) ->
    checked([{node, Node}, {module, Module}, {function, Function}, {args, Args}, {opts, Opts}],
            fun() ->
                    Request = case wire_opts(Opts) of
                                  #{} = Wire when map_size(Wire) =:= 0 ->
                                      {call, to_binary(Module), to_binary(Function), Args};
                                  Wire ->
                                      {call, to_binary(Module), to_binary(Function), Args, Wire}
                              end,
                    checked_reply(send(Node, Request, Opts))
            end).

%% @equiv call_method(Handle, Method, Args, #{})
-spec call_method(handle(), name(), list()) -> {ok, term()} | {error, error_reason()}.
call_method(Handle, Method, Args) ->
    call_method(Handle, Method, Args, #{}).

%% @doc Calls `Object.Method(*Args)' on the object `Handle' names, on the
%% node that made it. Options as for {@link call/5}; `result => handle'
%% makes the result a handle too, owned by the calling process.
-spec call_method(handle(), name(), list(), opts()) -> {ok, term()} | {error, error_reason()}.
call_method(Handle, Method, Args, Opts) ->
    checked([{handle, Handle}, {method, Method}, {args, Args}, {opts, Opts}],
            fun() ->
                    Request = {call_method, Handle, to_binary(Method), Args, wire_opts(Opts)},
                    checked_reply(send(handle_node(Handle), Request, Opts))
            end).

%% @equiv getattr(Handle, Name, #{})
-spec getattr(handle(), name()) -> {ok, term()} | {error, error_reason()}.
getattr(Handle, Name) ->
    getattr(Handle, Name, #{}).

%% @doc Reads `Object.Name' of the object `Handle' names. Options as for
%% {@link call/5}, but no `kwargs'.
-spec getattr(handle(), name(), opts()) -> {ok, term()} | {error, error_reason()}.
getattr(Handle, Name, Opts) ->
    checked([{handle, Handle}, {attribute, Name}, {opts, Opts}],
            fun() ->
                    Request = {getattr, Handle, to_binary(Name), wire_opts(maps:without([kwargs], Opts))},
                    checked_reply(send(handle_node(Handle), Request, Opts))
            end).

%% @equiv release(Handle, #{})
-spec release(handle()) -> ok | {error, error_reason()}.
release(Handle) ->
    release(Handle, #{}).

%% @doc Drops the handle now, rather than when its owner exits: pycnode
%% lets go of the object. `{error, {bad_handle, _}}' if it was not live
%% (released already, or its owner exited).
-spec release(handle(), opts()) -> ok | {error, error_reason()}.
release(Handle, Opts) ->
    checked([{handle, Handle}, {opts, Opts}],
            fun() ->
                    case send(handle_node(Handle), {release, Handle}, Opts) of
                        ok -> ok;
                        {error, _} = Error -> Error;
                        Other -> {error, {unexpected_reply, Other}}
                    end
            end).

%% @doc Whether `Term' has the shape of a handle (it may still be released).
-spec is_handle(term()) -> boolean().
is_handle({'$pycnode_handle', Ref}) -> is_reference(Ref);
is_handle(_) -> false.

%% @doc The pycnode node used when none is configured: the application's
%% `node' if set, otherwise `pycnode@Host' with this node's host (the short
%% host name when this node is not distributed).
-spec default_node() -> node().
default_node() ->
    case application:get_env(pycnode, node) of
        {ok, Node} when is_atom(Node), Node =/= undefined -> Node;
        _ -> list_to_atom("pycnode@" ++ this_host())
    end.

%% @doc Sends `Request' (any request of docs/protocol.md, with names already
%% binaries) to pycnode on `Node' and returns its reply as it came.
%%
%% This is the call machinery the other functions (and {@link py_asgi},
%% {@link py_wsgi}) share: the `timeout' and `name' options, the helper
%% process that keeps late replies out of the caller's mailbox, and the
%% mapping of the call's own failures to `{error, timeout}',
%% `{error, {nodedown, Node}}' and `{error, {exit, Why}}', and the checks
%% of `Node' and `Opts' (`{error, {badarg, What}}'). The reply is not
%% checked: it is pycnode's, `{ok, _}', `{error, _}', `pong'...
-spec request(node(), term(), opts()) -> term().
request(Node, Request, Opts) ->
    checked([{node, Node}, {opts, Opts}], fun() -> send(Node, Request, Opts) end).

%% @private
%% @doc {@link request/3} for callers that checked `Node' and `Opts'
%% already (the functions of this module, {@link py_asgi}, {@link py_wsgi}):
%% each request is checked once.
-spec send(node(), term(), opts()) -> term().
send(Node, Request, Opts) ->
    Name = maps:get(name, Opts, application:get_env(pycnode, name, ?DEFAULT_NAME)),
    Timeout = maps:get(timeout, Opts, application:get_env(pycnode, timeout, ?DEFAULT_TIMEOUT)),
    case Timeout of
        infinity -> call_here({Name, Node}, Node, Request, infinity);
        _ -> call_in_helper({Name, Node}, Node, Request, Timeout)
    end.

%% @private
%% @doc The request options that carry the caller's timeout to pycnode:
%% `#{timeout => Ms}' for a finite timeout (given, or the application's),
%% `#{}' for `infinity' (pycnode's --request-timeout applies).
-spec wire_timeout(opts()) -> #{timeout => non_neg_integer()}.
wire_timeout(Opts) ->
    case maps:get(timeout, Opts, application:get_env(pycnode, timeout, ?DEFAULT_TIMEOUT)) of
        T when is_integer(T), T >= 0 -> #{timeout => T};
        _ -> #{}
    end.

%% Internal functions

%% Runs `Send' when every argument passes its check (pycnode_args), else
%% returns the first failure, `{error, {badarg, What}}': one answer for
%% each kind of bad argument, whichever function was called.
checked(Checks, Send) ->
    case pycnode_args:check(Checks) of
        ok -> Send();
        {error, _} = Error -> Error
    end.

handle_node({'$pycnode_handle', Ref}) -> node(Ref).

%% The options pycnode reads. A handle result is owned by this process, not
%% by the helper that makes the call (call_in_helper/4), which exits at once.
wire_opts(Opts) ->
    Wire = maps:merge(wire_timeout(Opts), maps:with([kwargs, strings, nil, result], Opts)),
    case Wire of
        #{result := handle} -> Wire#{owner => self()};
        _ -> Wire
    end.

checked_reply({ok, _} = Reply) -> Reply;
checked_reply({error, _} = Error) -> Error;
checked_reply(Other) -> {error, {unexpected_reply, Other}}.

code_call(Node, Function, Source, Bindings, Opts) ->
    Namespace = to_binary(maps:get(namespace, Opts, <<"default">>)),
    Code = unicode:characters_to_binary(Source),  % checked by eval/4 and exec/4
    call(Node, <<"pyrunner.code">>, atom_to_binary(Function), [Namespace, Code, Bindings],
         maps:without([namespace], Opts)).

%% The helper's exit reason carries the result: the 'DOWN' message is the
%% only thing the caller ever receives from it, exactly once.
-spec call_in_helper({atom(), node()}, node(), term(), non_neg_integer()) -> term().
call_in_helper(Dest, Node, Request, Timeout) ->
    {Pid, Ref} = spawn_monitor(fun() -> exit({?MODULE, result, call_here(Dest, Node, Request, Timeout)}) end),
    receive
        {'DOWN', Ref, process, Pid, {?MODULE, result, Result}} -> Result;
        {'DOWN', Ref, process, Pid, Reason} -> {error, {exit, Reason}}
    end.

-spec call_here({atom(), node()}, node(), term(), timeout()) -> term().
call_here(Dest, Node, Request, Timeout) ->
    try
        gen_server:call(Dest, Request, Timeout)
    catch
        exit:{timeout, _} -> {error, timeout};
        exit:{{nodedown, Down}, _} -> {error, {nodedown, Down}};
        exit:{noconnection, _} -> {error, {nodedown, Node}};
        exit:{Reason, _} -> {error, {exit, Reason}}
    end.

%% A name the checks accepted.
-spec to_binary(name()) -> binary().
to_binary(Name) ->
    {ok, Bin} = pycnode_args:name(Name),
    Bin.

-spec this_host() -> string().
this_host() ->
    case node() of
        nonode@nohost ->
            {ok, Host} = inet:gethostname(),
            hd(string:split(Host, "."));
        Self ->
            lists:last(string:split(atom_to_list(Self), "@"))
    end.
