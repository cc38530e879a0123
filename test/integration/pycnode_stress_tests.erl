%% Stress: every shared structure of pycnode hammered from all workers at
%% once, for the free-threaded build above all (it runs on whichever binary
%% run.sh is given). One pycnode with more workers than cores; two peer
%% nodes with 200 processes each, released together, each firing a
%% randomised mix (fixed seed per process) for a few seconds:
%%
%%   - calls into many modules and functions, their first ones concurrent
%%     (the per-worker callable caches, Python's imports): json, base64,
%%     binascii, zlib, hashlib (through a fixture), textwrap, string,
%%     operator, math, statistics, colorsys, html, urllib.parse, fixtures;
%%   - calls that raise, results that cannot be converted, bad requests;
%%   - stats and ping (answered on the loop thread, next to the workers);
%%   - 100 KB binaries, nested terms of every kind, many distinct atoms
%%     (more than a worker's atom cache holds);
%%   - pipelined gen_server:send_request bursts.
%%
%% Every reply is checked against a value computed here, in Erlang. At the
%% end the counters must add up exactly: requests_served grew by the number
%% of requests sent (pings and stats included), requests_failed by the
%% number of {error, _} replies, and nothing is left in flight or queued.
-module(pycnode_stress_tests).

-include_lib("eunit/include/eunit.hrl").

-export([peer_run/4]).

-define(WORKERS, 4).
-define(PEERS, 2).
-define(PROCS_PER_PEER, 200).
-define(RUN_MS, 4000).
-define(CALL_TIMEOUT, 30000).
-define(BIG, 100000).
-define(FIX, <<"pyc_fixtures">>).
-define(SEED, 20251125).
-define(MAX_MISMATCHES, 20).

stress_test_() ->
    {setup,
     fun() ->
             P = pycnode_harness:start_pycnode("stress", #{workers => ?WORKERS}),
             Peers = [pycnode_harness:start_peer("stress" ++ integer_to_list(I), #{})
                      || I <- lists:seq(1, ?PEERS)],
             {P, Peers}
     end,
     fun({P, Peers}) ->
             [pycnode_harness:stop_peer(H) || H <- Peers],
             pycnode_harness:stop_pycnode(P)
     end,
     fun({P, Peers}) ->
             pycnode_harness:tests(P, [
                 {"2 peers x 200 processes, a random mix on 4 workers: every reply and counter checked",
                  fun(_) -> stress(P, Peers) end}
             ], 120)
     end}.

stress(#{node := N} = P, Peers) ->
    {ok, S0} = gen_server:call({pycnode, N}, stats, 10000),
    Self = self(),
    Indexed = lists:zip(lists:seq(1, length(Peers)), Peers),
    [spawn_link(fun() ->
                        R = pycnode_harness:peer_call(H, ?MODULE, peer_run,
                                                      [N, I, ?PROCS_PER_PEER, ?RUN_MS], 100000),
                        Self ! {stress_done, I, R}
                end) || {I, H} <- Indexed],
    Results = [receive {stress_done, I, R} -> R after 110000 -> error({no_result_from_peer, I}) end
               || {I, _} <- Indexed],
    Sent = lists:sum([maps:get(sent, R) || R <- Results]),
    Errors = lists:sum([maps:get(errors, R) || R <- Results]),
    Mismatches = lists:append([maps:get(mismatches, R) || R <- Results]),
    Ops = lists:foldl(fun(R, Acc) -> merge_counts(maps:get(ops, R), Acc) end, #{}, Results),
    io:format(user, "~n    stress: ~b requests, ~b of them answered {error, _}, from ~b processes~n"
              "    by kind: ~w~n", [Sent, Errors, ?PEERS * ?PROCS_PER_PEER, lists:sort(maps:to_list(Ops))]),
    ?assertEqual([], lists:sublist(Mismatches, ?MAX_MISMATCHES)),
    %% Every kind of operation was exercised, and more than a few times.
    ?assertEqual([], [K || K <- op_kinds(), maps:get(K, Ops, 0) < 20]),
    {ok, S1} = gen_server:call({pycnode, N}, stats, 10000),
    ?assertEqual(0, maps:get(requests_in_flight, S1)),
    ?assertEqual(0, maps:get(queue_length, S1)),
    %% A stats request is counted before it is answered, so S1 counts itself.
    ?assertEqual(Sent + 1, maps:get(requests_served, S1) - maps:get(requests_served, S0)),
    ?assertEqual(Errors, maps:get(requests_failed, S1) - maps:get(requests_failed, S0)),
    ?assertEqual(maps:get(requests_overloaded, S0), maps:get(requests_overloaded, S1)),
    ?assertEqual(maps:get(replies_dropped, S0), maps:get(replies_dropped, S1)),
    %% On a free-threaded build, stats tells the GIL's state as the
    %% interpreter itself does, and no standard library import turned it back
    %% on (every one of them declares Py_mod_gil).
    case maps:get(free_threaded, S1) of
        true ->
            {ok, GilNow} = pycnode:call(N, sys, '_is_gil_enabled', []),
            ?assertEqual({gil_enabled, GilNow}, {gil_enabled, maps:get(gil_enabled, S1)}),
            ?assertEqual({gil_enabled, false}, {gil_enabled, GilNow});
        false -> ok
    end,
    ?assertEqual(maps:get(gil_enabled, S0), maps:get(gil_enabled, S1)),
    %% Nothing was dropped as malformed, nothing went wrong enough to be
    %% logged as an error.
    ?assertEqual(0, pycnode_harness:log_count(P, "malformed packet")),
    ?assertEqual(0, pycnode_harness:log_count(P, "pycnode error")),
    ?assertEqual(pong, gen_server:call({pycnode, N}, ping, 5000)),
    ?assertEqual({ok, <<"still serving">>}, pycnode:call(N, pyc_fixtures, echo, [<<"still serving">>])).

%% --- on the peers --------------------------------------------------------

%% Runs Procs processes against PycNode for RunMs and returns what they
%% sent and saw: #{sent, errors, mismatches, ops}.
peer_run(PycNode, PeerIndex, Procs, RunMs) ->
    pong = net_adm:ping(PycNode),  % connected first, so the first calls go out together
    Self = self(),
    Go = make_ref(),
    Pids = [spawn_link(fun() ->
                               rand:seed(exsss, {PeerIndex, I, ?SEED}),
                               Acc0 = #{node => PycNode, id => {PeerIndex, I}, sent => 0, errors => 0,
                                        mismatches => [], ops => #{}, last_served => 0, atoms => 0},
                               receive Go -> ok end,
                               Deadline = erlang:monotonic_time(millisecond) + RunMs,
                               %% The first request of every process is a library call:
                               %% 400 first imports and cache fills at the same moment.
                               Acc1 = single(library(), Acc0),
                               Self ! {self(), run(Deadline, Acc1)}
                       end) || I <- lists:seq(1, Procs)],
    [Pid ! Go || Pid <- Pids],
    Results = [receive {Pid, R} -> R
               after RunMs + 90000 -> #{sent => 0, errors => 0, ops => #{}, mismatches => [{no_result, Pid}]}
               end || Pid <- Pids],
    #{sent => lists:sum([maps:get(sent, R) || R <- Results]),
      errors => lists:sum([maps:get(errors, R) || R <- Results]),
      mismatches => lists:sublist(lists:append([maps:get(mismatches, R) || R <- Results]), ?MAX_MISMATCHES),
      ops => lists:foldl(fun(R, A) -> merge_counts(maps:get(ops, R), A) end, #{}, Results)}.

run(Deadline, Acc) ->
    case erlang:monotonic_time(millisecond) >= Deadline of
        true -> maps:with([sent, errors, mismatches, ops], Acc);
        false ->
            Acc1 = case rand:uniform(12) of
                       1 -> burst(2 + rand:uniform(14), Acc);
                       _ -> single(op(), Acc)
                   end,
            run(Deadline, Acc1)
    end.

%% One request with gen_server:call.
single(Gen, Acc0) ->
    {Kind, Request, Expect, Acc} = Gen(Acc0),
    Reply = try gen_server:call({pycnode, maps:get(node, Acc)}, Request, ?CALL_TIMEOUT)
            catch exit:Why -> {call_failed, Why}
            end,
    record(Kind, Request, Expect, Reply, Acc).

%% K requests pipelined with send_request, then their replies.
burst(K, Acc0) ->
    Dest = {pycnode, maps:get(node, Acc0)},
    {Ops, Acc1} = lists:mapfoldl(fun(_, A) ->
                                         {Kind, Req, Exp, A1} = (op())(A),
                                         {{gen_server:send_request(Dest, Req), Kind, Req, Exp}, A1}
                                 end, Acc0, lists:seq(1, K)),
    lists:foldl(fun({Id, Kind, Req, Exp}, A) ->
                        Reply = case gen_server:receive_response(Id, ?CALL_TIMEOUT) of
                                    {reply, R} -> R;
                                    Other -> {no_reply, Other}
                                end,
                        record(Kind, Req, Exp, Reply, A)
                end, count(burst, Acc1), Ops).

record(Kind, Request, Expect, Reply, Acc0) ->
    Acc = count(Kind, Acc0#{sent := maps:get(sent, Acc0) + 1,
                            errors := maps:get(errors, Acc0) + is_error(Reply)}),
    case check(Expect, Reply, Acc) of
        {ok, Acc1} -> Acc1;
        mismatch ->
            Ms = maps:get(mismatches, Acc),
            case length(Ms) < ?MAX_MISMATCHES of
                true ->
                    M = #{kind => Kind, id => maps:get(id, Acc), request => brief(Request),
                          expected => brief(Expect), reply => brief(Reply)},
                    Acc#{mismatches := [M | Ms]};
                false -> Acc
            end
    end.

is_error({error, _}) -> 1;
is_error(_) -> 0.

count(Kind, Acc) ->
    Acc#{ops := maps:update_with(Kind, fun(C) -> C + 1 end, 1, maps:get(ops, Acc))}.

merge_counts(A, B) ->
    maps:fold(fun(K, V, M) -> maps:update_with(K, fun(C) -> C + V end, V, M) end, B, A).

%% Terms too large to print usefully are summarised.
brief(T) ->
    case erlang:external_size(T) > 400 of
        true -> {large_term, erlang:external_size(T), erlang:phash2(T)};
        false -> T
    end.

check({exact, Value}, Reply, Acc) ->
    ok_if(Reply =:= {ok, Value}, Acc);
check({python, Type, Message}, Reply, Acc) ->
    ok_if(case Reply of
              {error, {python, Type, Message, Tb}} -> is_binary(Tb) andalso contains(Tb, Type);
              _ -> false
          end, Acc);
check({python_type, Type}, Reply, Acc) ->
    ok_if(case Reply of
              {error, {python, Type, Message, Tb}} -> is_binary(Message) andalso is_binary(Tb);
              _ -> false
          end, Acc);
check({bad_result, Part}, Reply, Acc) ->
    ok_if(case Reply of
              {error, {bad_result, Detail}} -> is_binary(Detail) andalso contains(Detail, Part);
              _ -> false
          end, Acc);
check({bad_request, Detail}, Reply, Acc) ->
    ok_if(Reply =:= {error, {bad_request, Detail}}, Acc);
check({bad_request_prefix, Prefix}, Reply, Acc) ->
    ok_if(case Reply of
              {error, {bad_request, Detail}} -> is_binary(Detail) andalso binary:longest_common_prefix([Detail, Prefix]) =:= byte_size(Prefix);
              _ -> false
          end, Acc);
check(pong, Reply, Acc) ->
    ok_if(Reply =:= pong, Acc);
%% Each stats reply of one process counts more requests than the one before
%% (it counts itself), and describes this pycnode.
check(stats, {ok, #{requests_served := Served, requests_failed := Failed, requests_in_flight := InFlight,
                    queue_length := Queue, workers := Workers, free_threaded := FT}}, Acc)
  when is_integer(Served), is_integer(Failed), is_integer(InFlight), is_integer(Queue), is_boolean(FT) ->
    Last = maps:get(last_served, Acc),
    case Served > Last andalso Failed =< Served andalso InFlight >= 0 andalso Queue >= 0
        andalso Workers =:= ?WORKERS of
        true -> {ok, Acc#{last_served := Served}};
        false -> mismatch
    end;
check(_, _, _) ->
    mismatch.

ok_if(true, Acc) -> {ok, Acc};
ok_if(false, _) -> mismatch.

contains(Bin, Part) -> binary:match(Bin, Part) =/= nomatch.

%% --- the mix ---------------------------------------------------------------

op_kinds() ->
    [library, fixture, nested, atoms, big, cpu, raises, bad_result, bad_request, stats, ping, burst].

%% A generator: fun(Acc) -> {Kind, Request, Expected, Acc}.
op() ->
    pick([{30, fun library/0}, {8, fun fixture/0}, {8, fun nested/0}, {8, fun atoms/0}, {3, fun big/0},
          {3, fun cpu/0}, {6, fun raises/0}, {6, fun bad_result/0}, {6, fun bad_request/0},
          {3, fun stats/0}, {3, fun ping/0}]).

pick(Weighted) ->
    Total = lists:sum([W || {W, _} <- Weighted]),
    pick(rand:uniform(Total), Weighted).

pick(R, [{W, F} | _]) when R =< W -> F();
pick(R, [{W, _} | Rest]) -> pick(R - W, Rest).

call(M, F, A) -> {call, M, F, A}.

%% Standard library functions, called directly (bytes in, so str-only ones
%% go through the call_with_text fixture), with the result computed here.
library() ->
    Gens = library_calls(),
    Gen = lists:nth(rand:uniform(length(Gens)), Gens),
    fun(Acc) ->
            {M, F, A, Expect} = Gen(),
            {library, call(M, F, A), Expect, Acc}
    end.

library_calls() ->
    [fun() -> L = ints(), {<<"json">>, <<"dumps">>, [L], {exact, json_list(L)}} end,
     fun() -> L = ints(), {<<"json">>, <<"loads">>, [json_list(L)], {exact, L}} end,
     fun() ->
             L = ints(), B = rand:uniform(2) =:= 1,
             Text = iolist_to_binary([<<"{\"k\": ">>, json_list(L), <<", \"b\": ">>, atom_to_binary(B),
                                      <<", \"n\": null, \"f\": 2.5}">>]),
             {<<"json">>, <<"loads">>, [Text],
              {exact, #{<<"k">> => L, <<"b">> => B, <<"n">> => undefined, <<"f">> => 2.5}}}
     end,
     fun() -> B = bin(), {<<"base64">>, <<"b64encode">>, [B], {exact, base64:encode(B)}} end,
     fun() -> B = bin(), {<<"base64">>, <<"b64decode">>, [base64:encode(B)], {exact, B}} end,
     fun() -> B = bin(), {<<"base64">>, <<"urlsafe_b64encode">>, [B], {exact, urlsafe(base64:encode(B))}} end,
     fun() -> B = bin(), {<<"binascii">>, <<"hexlify">>, [B], {exact, hex(B)}} end,
     fun() -> B = bin(), {<<"binascii">>, <<"unhexlify">>, [hex(B)], {exact, B}} end,
     fun() -> B = bin(), {<<"binascii">>, <<"crc32">>, [B], {exact, erlang:crc32(B)}} end,
     fun() -> B = bin(), {<<"binascii">>, <<"b2a_base64">>, [B], {exact, <<(base64:encode(B))/binary, "\n">>}} end,
     fun() -> B = bin(), {<<"zlib">>, <<"crc32">>, [B], {exact, erlang:crc32(B)}} end,
     fun() -> B = bin(), {<<"zlib">>, <<"adler32">>, [B], {exact, erlang:adler32(B)}} end,
     fun() -> B = bin(), {<<"zlib">>, <<"decompress">>, [zlib:compress(B)], {exact, B}} end,
     fun() -> B = bin(), {?FIX, <<"digest">>, [<<"md5">>, B], {exact, erlang:md5(B)}} end,
     fun() -> B = bin(), {?FIX, <<"digest">>, [<<"sha256">>, B], {exact, crypto:hash(sha256, B)}} end,
     fun() -> B = bin(), {?FIX, <<"digest">>, [<<"sha1">>, B], {exact, crypto:hash(sha, B)}} end,
     fun() ->
             {Text, Prefix} = {lines(), pick_of([<<"> ">>, <<"    ">>, <<"#">>])},
             {?FIX, <<"call_with_text">>, [<<"textwrap">>, <<"indent">>, Text, Prefix],
              {exact, indent(Text, Prefix)}}
     end,
     fun() ->
             %% dedent also empties the lines that hold only whitespace
             Text = lines(),
             {?FIX, <<"call_with_text">>, [<<"textwrap">>, <<"dedent">>, indent(Text, <<"    ">>)],
              {exact, indent(Text, <<>>)}}
     end,
     fun() ->
             S = words(),
             {?FIX, <<"call_with_text">>, [<<"string">>, <<"capwords">>, S], {exact, capwords(S)}}
     end,
     fun() ->
             S = html_text(),
             {?FIX, <<"call_with_text">>, [<<"html">>, <<"escape">>, S], {exact, html_escape(S)}}
     end,
     fun() ->
             S = html_text(),
             {?FIX, <<"call_with_text">>, [<<"html">>, <<"unescape">>, html_escape(S)], {exact, S}}
     end,
     fun() -> S = url_text(), {<<"urllib.parse">>, <<"quote">>, [S], {exact, quote(S, <<"/">>)}} end,
     fun() ->
             S = url_text(),
             {<<"urllib.parse">>, <<"quote_plus">>, [S],
              {exact, binary:replace(quote(S, <<" ">>), <<" ">>, <<"+">>, [global])}}
     end,
     fun() ->
             %% ASCII only: unquote decodes the result as UTF-8
             S = << <<C>> || <<C>> <= url_text(), C < 128 >>,
             {<<"urllib.parse">>, <<"unquote">>, [quote(S, <<>>)], {exact, S}}
     end,
     fun() -> {A, B} = {big_int(), big_int()}, {<<"operator">>, <<"add">>, [A, B], {exact, A + B}} end,
     fun() -> {A, B} = {big_int(), big_int()}, {<<"operator">>, <<"mul">>, [A, B], {exact, A * B}} end,
     fun() -> A = big_int(), {<<"operator">>, <<"neg">>, [A], {exact, -A}} end,
     fun() ->
             {A, B} = {big_int(), nonzero()},
             {<<"operator">>, <<"floordiv">>, [A, B], {exact, floor_div(A, B)}}
     end,
     fun() -> {A, B} = {big_int(), nonzero()}, {<<"operator">>, <<"mod">>, [A, B], {exact, py_mod(A, B)}} end,
     fun() -> {A, B} = {ints(), ints()}, {<<"operator">>, <<"concat">>, [A, B], {exact, A ++ B}} end,
     fun() ->
             T = list_to_tuple([rand:uniform(100) || _ <- lists:seq(1, 1 + rand:uniform(9))]),
             I = rand:uniform(tuple_size(T)) - 1,
             {<<"operator">>, <<"getitem">>, [T, I], {exact, element(I + 1, T)}}
     end,
     fun() -> {A, B} = {big_int(), big_int()}, {<<"math">>, <<"gcd">>, [A, B], {exact, gcd(A, B)}} end,
     fun() -> A = abs(big_int()), {<<"math">>, <<"isqrt">>, [A], {exact, isqrt(A)}} end,
     fun() -> A = rand:uniform(60), {<<"math">>, <<"factorial">>, [A], {exact, factorial(A)}} end,
     fun() ->
             Nn = rand:uniform(80), K = rand:uniform(Nn + 1) - 1,
             {<<"math">>, <<"comb">>, [Nn, K], {exact, comb(Nn, K)}}
     end,
     fun() -> L = [rand:uniform(1000) | ints()], {<<"statistics">>, <<"median_low">>, [L], {exact, median_low(L)}} end,
     fun() -> L = [rand:uniform(1000) | ints()], {<<"statistics">>, <<"median_high">>, [L], {exact, median_high(L)}} end,
     fun() ->
             {R, G, B} = {rand:uniform(), rand:uniform(), rand:uniform()},
             {<<"colorsys">>, <<"rgb_to_yiq">>, [R, G, B], {exact, rgb_to_yiq(R, G, B)}}
     end,
     fun() ->
             {H, V} = {rand:uniform(), rand:uniform()},
             {<<"colorsys">>, <<"hsv_to_rgb">>, [H, 0.0, V], {exact, {V, V, V}}}
     end].

%% The fixture module's own functions, a dotted name among them.
fixture() ->
    fun(Acc) ->
            {F, A, Expect} =
                case rand:uniform(9) of
                    1 -> {X, Y} = {big_int(), big_int()}, {<<"add">>, [X, Y], {exact, X + Y}};
                    2 -> L = [leaf() || _ <- lists:seq(1, rand:uniform(5))], {<<"echo_all">>, L, {exact, L}};
                    3 -> B = rand:uniform(300), {<<"make_bigint">>, [B], {exact, (1 bsl B) - 1}};
                    4 -> D = rand:uniform(100), {<<"nested">>, [D], {exact, deep(D)}};
                    5 -> T = rterm(2), {<<"Holder.static_echo">>, [T], {exact, T}};
                    6 -> {<<"Holder.class_name">>, [], {exact, <<"Holder">>}};
                    7 -> {<<"type_names">>, [1.5], {exact, <<"float">>}};
                    8 ->
                        {Pid, Ref} = {self(), make_ref()},
                        {<<"opaque_keys">>, [[ext(Pid), ext(Ref)]], {exact, #{Pid => 0, Ref => 1}}};
                    9 -> {<<"make_opaque">>, [ext({self(), [a | b]})], {exact, {self(), [a | b]}}}
                end,
            {fixture, call(?FIX, F, A), Expect, Acc}
    end.

nested() ->
    fun(Acc) ->
            T = rterm(1 + rand:uniform(4)),
            {nested, call(?FIX, <<"echo">>, [T]), {exact, T}, Acc}
    end.

%% Atoms never seen before, one at a time or in lists: in all, far more than
%% one worker's atom cache (4096) holds.
atoms() ->
    fun(Acc) ->
            {Atoms, Acc1} = new_atoms(1 + rand:uniform(12), Acc),
            {F, A, Expect} =
                case rand:uniform(3) of
                    1 -> {<<"echo">>, [Atoms], {exact, Atoms}};
                    2 -> [At | _] = Atoms, {<<"make_atom">>, [atom_to_binary(At)], {exact, At}};
                    3 -> {<<"echo">>, [maps:from_list([{At, I} || {I, At} <- lists:enumerate(Atoms)])],
                          {exact, maps:from_list([{At, I} || {I, At} <- lists:enumerate(Atoms)])}}
                end,
            {atoms, call(?FIX, F, A), Expect, Acc1}
    end.

new_atoms(K, #{id := {P, I}, atoms := C} = Acc) ->
    Atoms = [list_to_atom(lists:flatten(io_lib:format("~ts_~b_~b_~b", [pick_of(["stress", [252, 110, 239, 99, 248, 100, 101]]), P, I, C + J])))
             || J <- lists:seq(1, K)],
    {Atoms, Acc#{atoms := C + K}}.

%% 100 KB binaries, both ways.
big() ->
    fun(Acc) ->
            Big = rand:bytes(?BIG),
            {M, F, A, Expect} =
                case rand:uniform(5) of
                    1 -> {?FIX, <<"echo">>, [Big], {exact, Big}};
                    2 -> {<<"zlib">>, <<"crc32">>, [Big], {exact, erlang:crc32(Big)}};
                    3 -> {<<"base64">>, <<"b64encode">>, [Big], {exact, base64:encode(Big)}};
                    4 -> {?FIX, <<"big_binary">>, [?BIG], {exact, binary:copy(<<"x">>, ?BIG)}};
                    5 -> {?FIX, <<"digest">>, [<<"sha256">>, Big], {exact, crypto:hash(sha256, Big)}}
                end,
            {big, call(M, F, A), Expect, Acc}
    end.

cpu() ->
    fun(Acc) ->
            Nn = rand:uniform(2000),
            Expect = lists:foldl(fun(I, T) -> (T + I * I) rem 1000003 end, 0, lists:seq(0, Nn - 1)),
            {cpu, call(?FIX, <<"cpu_work">>, [Nn]), {exact, Expect}, Acc}
    end.

%% Exceptions: raised by the function, by the library, or while resolving
%% the callable (missing module, missing attribute, not callable).
raises() ->
    fun(Acc) ->
            Msg = <<"boom ", (integer_to_binary(rand:uniform(1000)))/binary>>,
            Missing = integer_to_binary(rand:uniform(50)),
            {M, F, A, Expect} =
                case rand:uniform(11) of
                    1 -> {?FIX, <<"raise_value_error">>, [Msg], {python, <<"ValueError">>, Msg}};
                    2 -> {?FIX, <<"raise_custom">>, [Msg], {python, <<"CustomError">>, Msg}};
                    3 -> {<<"operator">>, <<"truediv">>, [big_int(), 0], {python, <<"ZeroDivisionError">>, <<"division by zero">>}};
                    4 -> {<<"math">>, <<"isqrt">>, [-1 - rand:uniform(10)],
                          {python, <<"ValueError">>, <<"isqrt() argument must be nonnegative">>}};
                    5 -> {<<"json">>, <<"loads">>, [<<"{bad">>],
                          {python, <<"JSONDecodeError">>,
                           <<"Expecting property name enclosed in double quotes: line 1 column 2 (char 1)">>}};
                    6 -> {<<"statistics">>, <<"median_low">>, [[]],
                          {python, <<"StatisticsError">>, <<"no median for empty data">>}};
                    7 -> Mod = <<"no_such_module_", Missing/binary>>,
                         {Mod, <<"f">>, [], {python, <<"ModuleNotFoundError">>,
                                             <<"No module named '", Mod/binary, "'">>}};
                    8 -> Fn = <<"no_such_function_", Missing/binary>>,
                         {<<"math">>, Fn, [], {python, <<"AttributeError">>,
                                               <<"module 'math' has no attribute '", Fn/binary, "'">>}};
                    9 -> {<<"string">>, <<"ascii_lowercase">>, [],
                          {python, <<"TypeError">>, <<"string.ascii_lowercase is not callable (it is str)">>}};
                    %% str-only functions given bytes: a TypeError from inside the library
                    10 -> {Mod, Fn} = pick_of([{<<"html">>, <<"escape">>}, {<<"textwrap">>, <<"dedent">>}]),
                          {Mod, Fn, [Msg], {python_type, <<"TypeError">>}};
                    11 -> {<<"string">>, <<"capwords">>, [Msg], {python_type, <<"TypeError">>}}
                end,
            {raises, call(M, F, A), Expect, Acc}
    end.

%% Results with no Erlang form.
bad_result() ->
    fun(Acc) ->
            {Pid, Ref} = {self(), make_ref()},
            {M, F, A, Part} =
                case rand:uniform(8) of
                    1 -> {?FIX, <<"returns_set">>, [], <<"cannot convert set">>};
                    2 -> {?FIX, <<"returns_nan">>, [], <<"nan">>};
                    3 -> {?FIX, <<"returns_colliding_keys">>, [], <<"same Erlang term">>};
                    4 -> {?FIX, <<"returns_self_list">>, [], <<"512">>};
                    5 -> {?FIX, <<"make_atom">>, [binary:copy(<<"a">>, 256)], <<"255">>};
                    6 -> {?FIX, <<"make_opaque">>, [ext_dup_map(Ref)], <<"considers equal">>};
                    %% one pid in NEW_PID_EXT and in PID_EXT: one key for Erlang
                    7 -> {?FIX, <<"opaque_keys">>, [pid_two_ways(Pid)], <<"same Erlang term">>};
                    8 -> {<<"textwrap">>, <<"TextWrapper">>, [20], <<"TextWrapper">>}
                end,
            {bad_result, call(M, F, A), {bad_result, Part}, Acc}
    end.

%% Requests pycnode refuses, on the loop thread or on a worker.
bad_request() ->
    Shape = <<"expected {call, Module :: binary(), Function :: binary(), Args :: list()}">>,
    Cases = [{hello, {bad_request, <<"unknown request hello">>}},
             {42, {bad_request, <<"a request is an atom or a tuple headed by an atom">>}},
             {{ping, x}, {bad_request, <<"expected ping">>}},
             {{stats, x}, {bad_request, <<"expected stats">>}},
             {{call, ?FIX}, {bad_request, Shape}},
             {{call, 1, 2, 3}, {bad_request, <<"Module must be a non-empty UTF-8 binary">>}},
             {{call, ?FIX, <<>>, []}, {bad_request, <<"Function must be a non-empty UTF-8 binary">>}},
             {{call, ?FIX, <<"echo">>, [1 | 2]}, {bad_request, <<"Args must be a proper list">>}},
             {{call, ?FIX, <<"echo">>, [deep(600)]},
              {bad_request, <<"argument 1: term nested deeper than 512 levels">>}},
             {{call, ?FIX, <<"echo">>, [#{[1] => 2}]}, {bad_request_prefix, <<"argument 1: ">>}}],
    {Request, Expect} = lists:nth(rand:uniform(length(Cases)), Cases),
    fun(Acc) -> {bad_request, Request, Expect, Acc} end.

stats() -> fun(Acc) -> {stats, stats, stats, Acc} end.

ping() -> fun(Acc) -> {ping, ping, pong, Acc} end.

%% --- values and the expected results ----------------------------------------

pick_of(L) -> lists:nth(rand:uniform(length(L)), L).

ints() -> [rand:uniform(2001) - 1001 || _ <- lists:seq(1, rand:uniform(8) - 1)].

bin() -> rand:bytes(rand:uniform(200) - 1).

big_int() ->
    Sign = pick_of([1, -1]),
    Sign * case rand:uniform(3) of
               1 -> rand:uniform(1000);
               2 -> rand:uniform(1 bsl 62);
               3 -> (1 bsl (60 + rand:uniform(200))) + rand:uniform(1 bsl 40)
           end.

nonzero() -> pick_of([1, -1]) * rand:uniform(1 bsl 40).

json_list(L) -> iolist_to_binary(["[", lists:join(", ", [integer_to_binary(I) || I <- L]), "]"]).

urlsafe(B64) -> << <<(case C of $+ -> $-; $/ -> $_; _ -> C end)>> || <<C>> <= B64 >>.

hex(B) -> << <<(hex_digit(X bsr 4)), (hex_digit(X band 15))>> || <<X>> <= B >>.

hex_digit(D) when D < 10 -> $0 + D;
hex_digit(D) -> $a + D - 10.

%% Lines of words, some blank; every line ends with a newline.
lines() ->
    iolist_to_binary([[pick_of([<<>>, <<"  ">>, words()]), $\n] || _ <- lists:seq(1, 1 + rand:uniform(5))]).

words() ->
    iolist_to_binary(lists:join(pick_of([<<" ">>, <<"  ">>]),
                                [[pick_of("abcXYZqrs") || _ <- lists:seq(1, rand:uniform(6))]
                                 || _ <- lists:seq(1, rand:uniform(5))])).

%% textwrap.indent: the prefix goes before every line that is not blank.
%% With an empty prefix: the text with its blank lines emptied, as
%% textwrap.dedent leaves them. Text ends with a newline.
indent(Text, Prefix) ->
    Lines = lists:droplast(binary:split(Text, <<"\n">>, [global])),
    iolist_to_binary([case string:trim(L) of
                          <<>> when Prefix =:= <<>> -> [$\n];
                          <<>> -> [L, $\n];
                          _ -> [Prefix, L, $\n]
                      end || L <- Lines]).

%% string.capwords: split on runs of whitespace, capitalize each word, join with one space.
capwords(S) ->
    Words = string:lexemes(S, " "),
    iolist_to_binary(lists:join(<<" ">>, [capitalize(W) || W <- Words])).

capitalize(<<First, Rest/binary>>) ->
    <<(string:to_upper(First)), (string:lowercase(Rest))/binary>>.

html_text() ->
    iolist_to_binary([pick_of(["a", "Z", " ", "<", ">", "&", "\"", "'", "x1"]) || _ <- lists:seq(1, rand:uniform(12))]).

html_escape(S) ->
    << <<(case C of
              $& -> <<"&amp;">>;
              $< -> <<"&lt;">>;
              $> -> <<"&gt;">>;
              $" -> <<"&quot;">>;
              $' -> <<"&#x27;">>;
              _ -> <<C>>
          end)/binary>> || <<C>> <= S >>.

url_text() ->
    iolist_to_binary([pick_of(["a", "Z", "0", "_", ".", "-", "~", "/", " ", "?", "&", "=", "%", "+", [200], [0]])
                      || _ <- lists:seq(1, rand:uniform(12))]).

%% urllib.parse.quote: letters, digits, "_.-~" and Safe stay, the rest is %XX.
quote(S, Safe) ->
    << <<(case is_unreserved(C) orelse binary:match(Safe, <<C>>) =/= nomatch of
              true -> <<C>>;
              false -> iolist_to_binary(io_lib:format("%~2.16.0B", [C]))
          end)/binary>> || <<C>> <= S >>.

is_unreserved(C) ->
    (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z) orelse (C >= $0 andalso C =< $9)
        orelse lists:member(C, "_.-~").

floor_div(A, B) ->
    Q = A div B,
    case A rem B =/= 0 andalso (A < 0) =/= (B < 0) of
        true -> Q - 1;
        false -> Q
    end.

py_mod(A, B) ->
    R = A rem B,
    case R =/= 0 andalso (R < 0) =/= (B < 0) of
        true -> R + B;
        false -> R
    end.

gcd(A, 0) -> abs(A);
gcd(A, B) -> gcd(B, A rem B).

isqrt(0) -> 0;
isqrt(N) -> isqrt(N, N).

isqrt(N, X) ->
    Y = (X + N div X) div 2,
    case Y >= X of
        true -> X;
        false -> isqrt(N, Y)
    end.

factorial(0) -> 1;
factorial(N) -> N * factorial(N - 1).

comb(N, K) -> factorial(N) div (factorial(K) * factorial(N - K)).

median_low(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

median_high(L) -> lists:nth(length(L) div 2 + 1, lists:sort(L)).

%% colorsys.rgb_to_yiq, operation for operation (IEEE doubles both sides).
rgb_to_yiq(R, G, B) ->
    Y = 0.30 * R + 0.59 * G + 0.11 * B,
    I = 0.74 * (R - Y) - 0.27 * (B - Y),
    Q = 0.48 * (R - Y) + 0.41 * (B - Y),
    {Y, I, Q}.

deep(0) -> 0;
deep(N) -> [deep(N - 1)].

%% A random term of every kind that round-trips through Python.
rterm(0) -> leaf();
rterm(D) ->
    case rand:uniform(6) of
        1 -> [rterm(D - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)];
        2 -> list_to_tuple([rterm(D - 1) || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        3 -> maps:from_list([{key(), rterm(D - 1)} || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        4 -> [rterm(D - 1) | leaf()];  % improper unless the leaf is a list
        _ -> leaf()
    end.

%% Map keys that stay distinct in Python (no 1 next to true or 1.0).
key() ->
    case rand:uniform(3) of
        1 -> 2 + rand:uniform(1000);
        2 -> rand:bytes(rand:uniform(4));
        3 -> pick_of([alpha, beta, 'ünï', undefined, {k, 1}])
    end.

leaf() ->
    case rand:uniform(14) of
        1 -> rand:uniform(512) - 256;
        2 -> big_int();
        3 -> rand:uniform() * 1.0e6 - 5.0e5;
        4 -> pick_of([0.0, -0.0, 1.0e308, -2.5e-308, 5.0e-324]);
        5 -> pick_of([true, false, undefined, ok, 'ünïcödé', '']);
        6 -> rand:bytes(rand:uniform(40) - 1);
        7 -> [];
        8 -> self();
        9 -> make_ref();
        10 -> fun() -> ok end;
        11 -> fun lists:map/2;
        12 -> <<(rand:uniform(255)), 5:3>>;
        13 -> "text";
        14 -> hd(erlang:ports())
    end.

%% External format without the version byte, as Opaque.ext holds it.
ext(T) ->
    <<131, Ext/binary>> = term_to_binary(T, [{minor_version, 2}]),
    Ext.

%% One pid (this one's node, id and serial, creation 1) in NEW_PID_EXT and
%% in the older PID_EXT, whose creation has one byte.
pid_two_ways(Pid) ->
    <<88, Rest/binary>> = ext(Pid),
    {Node, <<Id:32, Serial:32, _Creation:32>>} = split_atom(Rest),
    [<<88, Node/binary, Id:32, Serial:32, 1:32>>, <<103, Node/binary, Id:32, Serial:32, 1>>].

split_atom(<<119, Len, Name:Len/binary, Rest/binary>>) -> {<<119, Len, Name/binary>>, Rest};
split_atom(<<118, Len:16, Name:Len/binary, Rest/binary>>) -> {<<118, Len:16, Name/binary>>, Rest}.

%% #{Ref => 1, Ref => 2} as bytes: a map Erlang would refuse.
ext_dup_map(Ref) ->
    R = ext(Ref),
    <<116, 2:32, R/binary, 97, 1, R/binary, 97, 2>>.
