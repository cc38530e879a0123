%% @private
%% @doc What {@link py_asgi} and {@link py_wsgi} share: checking their
%% arguments and options, and sending the request through
%% {@link pycnode:request/3}.
-module(pycnode_web).

-export([name/2, options/1, request/4]).

-export_type([badarg/0]).

-type badarg() :: {badarg, module | callable | scope | body | environ | opts
                           | runner | node | timeout | name}.
%% Which argument or option was obviously wrong; nothing was sent.

%% @doc `Name' as the UTF-8 binary pycnode expects, or `{error, {badarg, What}}'.
-spec name(What, term()) -> {ok, binary()} | {error, {badarg, What}} when What :: atom().
name(_What, Name) when is_binary(Name), Name =/= <<>> ->
    {ok, Name};
name(_What, Name) when is_atom(Name), Name =/= '' ->
    {ok, atom_to_binary(Name, utf8)};
name(What, Name) when is_list(Name), Name =/= [] ->
    try unicode:characters_to_binary(Name) of
        Bin when is_binary(Bin) -> {ok, Bin};
        _ -> {error, {badarg, What}}
    catch
        error:_ -> {error, {badarg, What}}
    end;
name(What, _Name) ->
    {error, {badarg, What}}.

%% @doc Splits `Opts' into the node to call, the options of
%% {@link pycnode:request/3} and the options sent on the wire (only those
%% pycnode understands: `runner', and a finite `timeout' as the deadline).
-spec options(term()) -> {ok, node(), pycnode:opts(), map()} | {error, badarg()}.
options(Opts) when is_map(Opts) ->
    Checks = [{node, fun is_atom/1},
              {timeout, fun(T) -> T =:= infinity orelse (is_integer(T) andalso T >= 0) end},
              {name, fun is_atom/1}],
    case [Key || {Key, Ok} <- Checks, maps:is_key(Key, Opts), not Ok(maps:get(Key, Opts))] of
        [Bad | _] ->
            {error, {badarg, Bad}};
        [] ->
            case Opts of
                #{runner := Runner} ->
                    case name(runner, Runner) of
                        {ok, R} -> options(Opts, #{runner => R});
                        {error, _} = Error -> Error
                    end;
                #{} ->
                    options(Opts, #{})
            end
    end;
options(_Opts) ->
    {error, {badarg, opts}}.

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
    case pycnode:request(Node, Request, CallOpts) of
        {error, _} = Error -> Error;
        Reply ->
            case Check(Reply) of
                true -> Reply;
                false -> {error, {unexpected_reply, Reply}}
            end
    end.
