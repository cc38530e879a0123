%% pycnode:check/1,2: why a pycnode node cannot be reached, step by step, as
%% an operator would look: epmd on its host, the name registered there, the
%% listen port, the distribution handshake (the cookie), then a request to
%% its registered name.
-module(pycnode_check).

-export([check/2]).

-define(CONNECT_TIMEOUT, 5000).

-spec check(node(), pycnode:opts()) -> ok | {error, pycnode:check_error()}.
check(Node, Opts) ->
    case string:split(atom_to_list(Node), "@") of
        [Alive, Host] when Alive =/= "", Host =/= "" -> registered(Node, Alive, Host, Opts);
        _ -> {error, {bad_node_name, Node}}
    end.

registered(Node, Alive, Host, Opts) ->
    case erl_epmd:names(Host) of
        {ok, Names} ->
            case lists:keyfind(Alive, 1, Names) of
                {Alive, Port} -> listening(Node, Host, Port, Opts);
                false -> {error, {not_registered, list_to_atom(Alive), list_to_atom(Host)}}
            end;
        {error, _} ->
            {error, {epmd_unreachable, list_to_atom(Host)}}
    end.

listening(Node, Host, Port, Opts) ->
    case gen_tcp:connect(Host, Port, [], ?CONNECT_TIMEOUT) of
        {ok, Socket} ->
            gen_tcp:close(Socket),
            connected(Node, Opts);
        {error, Why} ->
            {error, {port_unreachable, Port, Why}}
    end.

%% A refused handshake is, between nodes that reach each other, a cookie
%% that differs (pycnode logs the reason on its side).
connected(Node, Opts) ->
    case node() of
        nonode@nohost -> {error, not_distributed};
        _ ->
            case net_kernel:hidden_connect_node(Node) of
                true -> serving(Node, Opts);
                _ -> {error, handshake_refused}
            end
    end.

serving(Node, Opts) ->
    case pycnode:ping(Node, Opts) of
        pong -> ok;
        {error, Why} -> {error, {not_serving, Why}}
    end.
