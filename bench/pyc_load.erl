%% @doc Closed-loop load generator: N caller processes, each sending one
%% gen_server call at a time to a target for a fixed time after a warm-up.
%% Reports requests/s, latency percentiles (microseconds) and errors.
-module(pyc_load).
-export([run/4, run/5, format/1]).

-type target() :: {atom(), node()}.
-type result() :: #{concurrency := pos_integer(), requests := non_neg_integer(),
                    errors := non_neg_integer(), rps := float(),
                    p50 := number(), p90 := number(), p99 := number(), max := number(),
                    atom() => term()}.  % and what the sampler returned

%% @doc Runs `Concurrency' callers of `Request' against `Target' for `DurationMs'.
-spec run(target(), term(), pos_integer(), pos_integer()) -> result().
run(Target, Request, Concurrency, DurationMs) ->
    run(Target, Request, Concurrency, DurationMs, #{}).

%% @doc As run/4; options: warmup_ms (default 1000), timeout (default 10000),
%% check (a fun that returns true for a good reply; default: not {error, _}),
%% sampler (a fun called as the measured window opens, after the warm-up; it
%% returns a fun called as the window closes, whose map is merged into the
%% result: how CPU and memory of the server are sampled over exactly the
%% window the figures come from).
-spec run(target(), term(), pos_integer(), pos_integer(), map()) -> result().
run(Target, Request, Concurrency, DurationMs, Opts) ->
    Warmup = maps:get(warmup_ms, Opts, 1000),
    Timeout = maps:get(timeout, Opts, 10000),
    Check = maps:get(check, Opts, fun({error, _}) -> false; (_) -> true end),
    Self = self(),
    Now = erlang:monotonic_time(millisecond),
    MeasureFrom = Now + Warmup,
    Until = MeasureFrom + DurationMs,
    Sampler = maps:get(sampler, Opts, fun() -> fun() -> #{} end end),
    Pids = [spawn_link(fun() -> caller(Self, Target, Request, Timeout, Check, MeasureFrom, Until) end)
            || _ <- lists:seq(1, Concurrency)],
    sleep_until(MeasureFrom),
    Stop = Sampler(),
    sleep_until(Until),
    Sampled = Stop(),
    Results = [receive {done, P, Lat, Err} -> {Lat, Err} end || P <- Pids],
    Latencies = lists:sort(lists:append([L || {L, _} <- Results])),
    Errors = lists:sum([E || {_, E} <- Results]),
    N = length(Latencies),
    Sampled#{concurrency => Concurrency, requests => N, errors => Errors,
              rps => N * 1000 / DurationMs,
              p50 => percentile(Latencies, N, 0.50), p90 => percentile(Latencies, N, 0.90),
              p99 => percentile(Latencies, N, 0.99), max => percentile(Latencies, N, 1.0)}.

%% The callers' {done, ...} messages wait in the mailbox meanwhile.
sleep_until(T) ->
    receive after max(0, T - erlang:monotonic_time(millisecond)) -> ok end.

caller(Parent, Target, Request, Timeout, Check, MeasureFrom, Until) ->
    {Latencies, Errors} = loop(Target, Request, Timeout, Check, MeasureFrom, Until, [], 0),
    Parent ! {done, self(), Latencies, Errors}.

loop(Target, Request, Timeout, Check, MeasureFrom, Until, Acc, Err) ->
    T0 = erlang:monotonic_time(microsecond),
    case T0 div 1000 >= Until of
        true ->
            {Acc, Err};
        false ->
            Reply = try gen_server:call(Target, Request, Timeout) catch exit:R -> {error, R} end,
            T1 = erlang:monotonic_time(microsecond),
            Measured = T0 div 1000 >= MeasureFrom,
            Good = Check(Reply),
            case {Measured, Good} of
                {true, true} -> loop(Target, Request, Timeout, Check, MeasureFrom, Until, [T1 - T0 | Acc], Err);
                {true, false} -> loop(Target, Request, Timeout, Check, MeasureFrom, Until, Acc, Err + 1);
                {false, _} -> loop(Target, Request, Timeout, Check, MeasureFrom, Until, Acc, Err)
            end
    end.

percentile(_, 0, _) -> 0;
percentile(Sorted, N, P) -> lists:nth(max(1, min(N, round(P * N))), Sorted).

%% @doc One line of text for a result.
-spec format(result()) -> iolist().
format(#{concurrency := C, rps := Rps, p50 := P50, p90 := P90, p99 := P99, max := Max, errors := E}) ->
    io_lib:format("c=~-4B ~10.1f req/s  p50 ~6B us  p90 ~6B us  p99 ~6B us  max ~7B us  errors ~B",
                  [C, Rps, P50, P90, P99, Max, E]).
