%% Called by test/packaging/run.sh: a few calls through the pycnode client
%% built by rebar3; prints each result and halts 0 only if all are right.
-module(rebar_client).
-export([main/1]).

main([Node]) ->
    {ok, _} = application:ensure_all_started(pycnode),
    Checks = [{check, pycnode:check(Node), ok},
              {ping, pycnode:ping(Node), pong},
              {call, pycnode:call(Node, operator, add, [1, 2]), {ok, 3}},
              {python_error, element(1, pycnode:call(Node, math, sqrt, [-1])), error}],
    report(Checks).

report(Checks) ->
    Bad = [C || {_, Got, Want} = C <- Checks, Got =/= Want],
    [io:format("rebar_client: ~p -> ~p~n", [Name, Got]) || {Name, Got, _} <- Checks],
    halt(case Bad of [] -> 0; _ -> 1 end).
