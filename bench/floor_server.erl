%% @doc The floor of `make bench': a plain gen_server that answers `ping'
%% with `pong', and the ASGI echo request of the echo rows with the reply
%% pycnode's echo app makes (the same body back, the same headers), run on
%% its own Erlang node, so the same gen_server:call over distribution can be
%% timed against an Erlang peer instead of pycnode.
-module(floor_server).
-behaviour(gen_server).
-export([start/0]).
-export([init/1, handle_call/3, handle_cast/2]).

%% @doc Starts the server registered as `floor_server' (not linked: the
%% `erl -eval' process that starts it exits right after).
start() ->
    {ok, _} = gen_server:start({local, ?MODULE}, ?MODULE, [], []),
    ok.

init([]) -> {ok, nostate}.

handle_call(ping, _From, State) -> {reply, pong, State};
handle_call({asgi, _Module, <<"echo">>, _Scope, Body, _Opts}, _From, State) ->
    Headers = [{<<"content-type">>, <<"application/octet-stream">>},
               {<<"content-length">>, integer_to_binary(byte_size(Body))}],
    {reply, {ok, {200, Headers, Body}}, State};
handle_call(_Other, _From, State) -> {reply, {error, unknown_request}, State}.

handle_cast(_Msg, State) -> {noreply, State}.
