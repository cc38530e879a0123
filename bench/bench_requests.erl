%% @doc The requests bench/profile.sh and bench/callgrind.sh send, by name,
%% and the node name of the pycnode they target.
-module(bench_requests).
-export([named/1, pycnode_node/1]).

%% @doc The request for a scenario name (an atom from the command line).
-spec named(atom()) -> term().
named(asgi_hello) -> {asgi, <<"bench_app">>, <<"hello">>, scope(), <<>>, #{}};
named(wsgi_hello) -> {wsgi, <<"bench_app">>, <<"wsgi_hello">>, environ(), #{}};
named(ping) -> ping;
named(call) -> {call, <<"bench_app">>, <<"add">>, [1, 2]};
named(echo_1mib) ->
    {asgi, <<"bench_app">>, <<"echo">>, (scope())#{method => <<"POST">>}, binary:copy(<<"x">>, 1048576), #{}}.

%% @doc The node `Sname'@ this node's host, pinged.
-spec pycnode_node(string()) -> node().
pycnode_node(Sname) ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Node = list_to_atom(Sname ++ "@" ++ Host),
    pong = net_adm:ping(Node),
    Node.

scope() ->
    #{type => <<"http">>, method => <<"GET">>, path => <<"/">>,
      headers => [[<<"host">>, <<"localhost">>]], server => {<<"localhost">>, 8080}}.

environ() ->
    #{<<"REQUEST_METHOD">> => <<"GET">>, <<"PATH_INFO">> => <<"/">>,
      <<"SERVER_NAME">> => <<"localhost">>, <<"SERVER_PORT">> => <<"8080">>}.
