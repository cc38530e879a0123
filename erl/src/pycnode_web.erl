%% @private
%% @doc What {@link py_asgi} and {@link py_wsgi} share: checking their
%% arguments and options, and sending the request through
%% {@link pycnode:send/3}.
-module(pycnode_web).

-export([name/2, options/1, request/4]).

-export_type([badarg/0]).

-type badarg() :: {badarg, pycnode_args:what()}.
%% Which argument or option was obviously wrong; nothing was sent.

%% @doc `Name' as the UTF-8 binary pycnode expects, or `{error, {badarg, What}}'.
-spec name(What, term()) -> {ok, binary()} | {error, {badarg, What}} when What :: atom().
name(What, Name) ->
    case pycnode_args:name(Name) of
        {ok, _} = Ok -> Ok;
        error -> {error, {badarg, What}}
    end.

%% @doc Splits `Opts' into the node to call, the options of
%% {@link pycnode:request/3} and the options sent on the wire (only those
%% pycnode understands: `runner', and a finite `timeout' as the deadline).
%% `Opts' is checked as every function of the client checks its options
%% (pycnode_args).
-spec options(term()) -> {ok, node(), pycnode:opts(), map()} | {error, badarg()}.
options(Opts) ->
    case pycnode_args:check([{opts, Opts}]) of
        ok -> options(Opts, runner_wire(Opts));
        {error, _} = Error -> Error
    end.

%% The runner option as sent: a binary (checked a name already).
runner_wire(#{runner := Runner}) ->
    {ok, Name} = pycnode_args:name(Runner),
    #{runner => Name};
runner_wire(#{}) ->
    #{}.

-spec options(map(), map()) -> {ok, node(), pycnode:opts(), map()}.
options(Opts, Wire) ->
    Node = case Opts of
               #{node := N} -> N;
               #{} -> pycnode:default_node()
           end,
    {ok, Node, maps:with([timeout, name], Opts), maps:merge(Wire, pycnode:wire_timeout(Opts))}.

%% @doc Sends `Request' to `Node' and passes the reply through `Check'
%% (true for the replies the caller's contract allows); `{error, _}' replies
%% pass as they are, anything else is `{error, {unexpected_reply, Reply}}'.
-spec request(node(), term(), pycnode:opts(), fun((term()) -> boolean())) -> term().
request(Node, Request, CallOpts, Check) ->
    case pycnode:send(Node, Request, CallOpts) of  % options/1 checked them
        {error, _} = Error -> Error;
        Reply ->
            case Check(Reply) of
                true -> Reply;
                false -> {error, {unexpected_reply, Reply}}
            end
    end.
