%% @doc The `pycnode' application: starts {@link pycnode_sup}.
%%
%% The client needs no running processes ({@link pycnode} calls work
%% without the application started); the application exists so that its
%% environment (`node', `name', `timeout') is loaded and so that later node
%% pools have a supervisor to live under.
-module(pycnode_app).
-behaviour(application).

-export([start/2, stop/1]).

%% @private
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    pycnode_sup:start_link().

%% @private
-spec stop(term()) -> ok.
stop(_State) ->
    ok.
