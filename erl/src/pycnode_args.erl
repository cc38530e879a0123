%% @private
%% @doc The checks every function of the client makes of its arguments
%% before sending anything: one place, so that each kind of bad argument
%% gets the same answer everywhere, `{error, {badarg, What}}', where `What'
%% names the argument (`node', `module', `args'...) or the option
%% (`timeout', `kwargs'...) that is wrong.
-module(pycnode_args).

-export([check/1, name/1]).

-export_type([what/0]).

-type what() :: node | module | function | callable | method | attribute | args | bindings
              | expression | statements | handle | scope | body | environ | opts
              | timeout | name | kwargs | strings | nil | result | namespace | prefix | runner.

%% @doc `ok' when each `{What, Value}' is a valid `What', else
%% `{error, {badarg, W}}' for the first that is not. `{opts, Opts}' is a map
%% whose known keys hold valid values; `W' is then the key that does not.
%% Keys no function reads are ignored, as in any options map.
-spec check([{what(), term()}]) -> ok | {error, {badarg, what()}}.
check([]) ->
    ok;
check([{opts, Opts} | Rest]) when is_map(Opts) ->
    case [Key || {Key, Value} <- lists:sort(maps:to_list(Opts)), not valid_option(Key, Value)] of
        [] -> check(Rest);
        [Key | _] -> {error, {badarg, Key}}
    end;
check([{What, Value} | Rest]) ->
    case valid(What, Value) of
        true -> check(Rest);
        false -> {error, {badarg, What}}
    end.

%% @doc A name (module, function, attribute...) as the UTF-8 binary pycnode
%% expects: a non-empty binary, atom or string. `error' if it is not one.
-spec name(term()) -> {ok, binary()} | error.
name(Name) when is_binary(Name), Name =/= <<>> ->
    {ok, Name};
name(Name) when is_atom(Name), Name =/= '' ->
    {ok, atom_to_binary(Name, utf8)};
name(Name) when is_list(Name), Name =/= [] ->
    try unicode:characters_to_binary(Name) of
        Bin when is_binary(Bin) -> {ok, Bin};
        _ -> error
    catch
        error:_ -> error
    end;
name(_) ->
    error.

%% Internal functions

valid(node, Node) -> is_atom(Node);
valid(args, Args) -> is_list(Args) andalso is_proper(Args);
valid(bindings, Bindings) -> is_map(Bindings);
valid(handle, Handle) -> pycnode:is_handle(Handle);
valid(scope, Scope) -> is_map(Scope) orelse is_reference(Scope);
valid(body, Body) -> is_binary(Body);
valid(environ, Environ) -> is_map(Environ);
valid(Source, Code) when Source =:= expression; Source =:= statements ->
    try unicode:characters_to_binary(Code) of
        Bin -> is_binary(Bin)
    catch
        error:_ -> false
    end;
valid(opts, _NotAMap) -> false;
valid(_Name, Name) -> name(Name) =/= error.

valid_option(timeout, T) -> T =:= infinity orelse (is_integer(T) andalso T >= 0);
valid_option(name, Name) -> is_atom(Name);
valid_option(node, Node) -> is_atom(Node);
valid_option(kwargs, Kwargs) when is_map(Kwargs) -> lists:all(fun is_keyword/1, maps:keys(Kwargs));
valid_option(kwargs, Kwargs) when is_list(Kwargs) ->
    is_proper(Kwargs) andalso lists:all(fun({K, _}) -> is_keyword(K); (_) -> false end, Kwargs);
valid_option(kwargs, _) -> false;
valid_option(strings, S) -> S =:= bytes orelse S =:= str;
valid_option(nil, N) -> N =:= atom orelse N =:= none;
valid_option(result, R) -> R =:= term orelse R =:= handle;
valid_option(namespace, Namespace) -> name(Namespace) =/= error;
valid_option(prefix, Prefix) -> is_boolean(Prefix);
valid_option(runner, Runner) -> name(Runner) =/= error;
valid_option(owner, Owner) -> is_pid(Owner);
valid_option(_Unknown, _) -> true.

%% A keyword argument's name, as pycnode takes it.
is_keyword(Key) -> (is_atom(Key) andalso Key =/= '') orelse (is_binary(Key) andalso Key =/= <<>>).

is_proper([]) -> true;
is_proper([_ | T]) -> is_proper(T);
is_proper(_) -> false.
