%% The {asgi, ...} and {build_scope, ...} requests against a real pycnode,
%% with the raw ASGI apps of test/fixtures/asgi_fixtures.py: the scope's
%% every type and value, template isolation, bodies, the event loop
%% hand-off, protocol errors, lifespan, custom runners, scope references,
%% and Starlette (anyio) for the async and sync endpoint paths.
%%
%% Requests go straight to gen_server:call: this tests pycnode's wire
%% protocol (docs/protocol.md), not the client modules.
-module(pycnode_asgi_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"asgi_fixtures">>).
-define(WORKERS, 2).
-define(TIMEOUT, 30000).
-define(SCOPE_STORE_CAPACITY, 1024).

asgi_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("asgi", #{workers => ?WORKERS}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"hello", fun hello/1},
                 {"the scope: every field, type and value", fun scope_every_field/1},
                 {"the scope: a query_string given with its ? loses it", fun query_string_question_mark/1},
                 {"the scope: defaults for missing fields", fun scope_defaults/1},
                 {"the scope: percent-decoded UTF-8 path, invalid UTF-8 replaced", fun scope_path/1},
                 {"the scope: 100 headers, order, duplicates, lower-cased names", fun scope_headers/1},
                 {"the scope: nothing a request changes reaches the next", fun scope_isolation/1},
                 {"the scope template: alternating set-ups see their own values", fun template_isolation/1},
                 {"body: all 256 byte values arrive as bytes", fun body_bytes/1},
                 {"body: 10 MiB request and response", fun big_bodies/1},
                 {"body: 1 MiB requests, many at once, in storage kept for reuse", fun kept_packets/1},
                 {"response: chunks joined, headers as sent", fun chunked/1},
                 {"event loop: asyncio.sleep(0.01) and sleep(0) in the same task", fun sleeps/1},
                 {"event loop: run_in_executor", fun executor/1},
                 {"event loop: cancelled timers do not pile up", fun cancelled_timers/1},
                 {"protocol errors", fun protocol_errors/1},
                 {"the native cycle answers as pyrunner's HTTPCycle, case by case", fun native_cycle/1},
                 {"exceptions before and after the response", fun exceptions/1},
                 {"no response", fun no_response/1},
                 {"lifespan: startup state in every request's scope", fun lifespan_state/1},
                 {"lifespan: startup failure", fun lifespan_failed/1},
                 {"custom runners", fun custom_runners/1},
                 {"build_scope: run with the reference", fun build_scope/1},
                 {"build_scope: unknown and malformed", fun build_scope_errors/1},
                 {"bad requests", fun bad_requests/1},
                 {"Starlette: async, sync (anyio threads) and streaming endpoints", fun starlette/1},
                 {"200 concurrent requests", fun concurrent/1},
                 {"build_scope: references are evicted past the store's capacity", fun evicted/1}
             ], 120)
     end}.

%% A reference from another pycnode is foreign to this one.
foreign_reference_test_() ->
    {setup,
     fun() ->
             {pycnode_harness:start_pycnode("asgi_a", #{workers => 1}),
              pycnode_harness:start_pycnode("asgi_b", #{workers => 1})}
     end,
     fun({A, B}) -> pycnode_harness:stop_pycnode(A), pycnode_harness:stop_pycnode(B) end,
     fun({#{node := A}, #{node := B}}) ->
             [{"a reference from another pycnode is unknown_scope",
               fun() ->
                       {ok, Ref} = call(A, {build_scope, #{path => <<"/">>}, #{}}),
                       ?assertEqual(A, node(Ref)),
                       ?assertMatch({ok, {200, _, _}}, asgi(A, <<"hello">>, Ref, <<>>)),
                       ?assertEqual({error, unknown_scope}, asgi(B, <<"hello">>, Ref, <<>>))
               end}]
     end}.

%% Stopping pycnode shuts down every lifespan it started, on its worker.
lifespan_shutdown_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("asgi_exit", #{workers => 2}) end,
     fun(_) -> ok end,
     fun(P = #{node := N, log_file := LogFile}) ->
             [{"lifespans are shut down when pycnode stops",
               fun() ->
                       Self = self(),
                       [spawn_link(fun() -> Self ! {done, asgi(N, <<"logged_lifespan">>, #{path => <<"/">>}, <<>>)} end)
                        || _ <- lists:seq(1, 8)],
                       [receive {done, R} -> ?assertEqual({ok, {200, [], <<"ok">>}}, R) end || _ <- lists:seq(1, 8)],
                       pycnode_harness:stop_pycnode(P),
                       {ok, Log} = file:read_file(LogFile),
                       Startups = count(Log, <<"logged_lifespan: startup">>),
                       ?assert(Startups >= 1),
                       ?assertEqual(Startups, count(Log, <<"logged_lifespan: shutdown">>))
               end}]
     end}.

count(Log, Pattern) ->
    length(binary:matches(Log, Pattern)).

%% --- helpers ---------------------------------------------------------------

call(N, Request) ->
    gen_server:call({pycnode, N}, Request, ?TIMEOUT).

asgi(N, App, Scope, Body) ->
    asgi(N, App, Scope, Body, #{}).

asgi(N, App, Scope, Body, Opts) ->
    call(N, {asgi, ?FIX, App, Scope, Body, Opts}).

%% Runs echo_scope and returns the typed description of the scope it saw.
seen_scope(N, Scope) ->
    Id = integer_to_binary(erlang:unique_integer([positive])),
    Headers = maps:get(headers, Scope, []) ++ [{<<"x-request-id">>, Id}],
    ?assertEqual({ok, {200, [], <<"recorded">>}}, asgi(N, <<"echo_scope">>, Scope#{headers => Headers}, <<>>)),
    {ok, {dict, Seen}} = call(N, {call, ?FIX, <<"scope_seen">>, [Id]}),
    Seen.

str(S) -> {str, S}.
bytes(B) -> {bytes, B}.
endpoint(Host, Port) -> {tuple, [{str, Host}, {int, Port}]}.
header(Name, Value) -> {list, [{bytes, Name}, {bytes, Value}]}.
without_request_id({list, Headers}) -> {list, lists:droplast(Headers)}.

%% --- tests -------------------------------------------------------------------

%% A query_string given with its '?' reaches the app without it.
query_string_question_mark(#{node := N}) ->
    Seen = seen_scope(N, #{path => <<"/">>, query_string => <<"?q=1">>}),
    ?assertEqual(bytes(<<"q=1">>), maps:get(<<"query_string">>, Seen)).

hello(#{node := N}) ->
    ?assertEqual({ok, {200, [{<<"content-type">>, <<"text/plain">>}], <<"Hello, world!">>}},
                 asgi(N, <<"hello">>, #{path => <<"/">>}, <<>>)).

scope_every_field(#{node := N}) ->
    Scope = #{type => <<"http">>,
              asgi => #{version => <<"3.0">>, <<"spec_version">> => <<"2.4">>},
              http_version => <<"2">>, method => <<"post">>, scheme => <<"https">>,
              path => <<"/items/a%2Fb">>, raw_path => <<"/items/a%2Fb">>,
              query_string => <<"q=%20x&y=1">>, root_path => <<"/api">>,
              headers => [[<<"Host">>, <<"example.com">>], {<<"Accept">>, <<"*/*">>}],
              server => {<<"10.0.0.1">>, 443}, client => {<<"127.0.0.1">>, 54321},
              state => #{user => <<"joe">>},
              extensions => #{<<"http.response.trailers">> => #{}},
              custom_key => [1, 2]},
    Seen = seen_scope(N, Scope),
    ?assertEqual(str(<<"http">>), maps:get(<<"type">>, Seen)),
    ?assertEqual({dict, #{<<"version">> => str(<<"3.0">>), <<"spec_version">> => str(<<"2.4">>)}},
                 maps:get(<<"asgi">>, Seen)),
    ?assertEqual(str(<<"2">>), maps:get(<<"http_version">>, Seen)),
    ?assertEqual(str(<<"POST">>), maps:get(<<"method">>, Seen)),
    ?assertEqual(str(<<"https">>), maps:get(<<"scheme">>, Seen)),
    ?assertEqual(str(<<"/items/a/b">>), maps:get(<<"path">>, Seen)),
    ?assertEqual(bytes(<<"/items/a%2Fb">>), maps:get(<<"raw_path">>, Seen)),
    ?assertEqual(bytes(<<"q=%20x&y=1">>), maps:get(<<"query_string">>, Seen)),
    ?assertEqual(str(<<"/api">>), maps:get(<<"root_path">>, Seen)),
    ?assertEqual({list, [header(<<"host">>, <<"example.com">>), header(<<"accept">>, <<"*/*">>)]},
                 without_request_id(maps:get(<<"headers">>, Seen))),
    ?assertEqual(endpoint(<<"10.0.0.1">>, 443), maps:get(<<"server">>, Seen)),
    ?assertEqual(endpoint(<<"127.0.0.1">>, 54321), maps:get(<<"client">>, Seen)),
    ?assertEqual({dict, #{<<"user">> => bytes(<<"joe">>)}}, maps:get(<<"state">>, Seen)),
    ?assertEqual({dict, #{<<"http.response.trailers">> => {dict, #{}}}}, maps:get(<<"extensions">>, Seen)),
    ?assertEqual({list, [{int, 1}, {int, 2}]}, maps:get(<<"custom_key">>, Seen)),
    Expected = [<<"type">>, <<"asgi">>, <<"http_version">>, <<"method">>, <<"scheme">>, <<"path">>,
                <<"raw_path">>, <<"query_string">>, <<"root_path">>, <<"headers">>, <<"client">>,
                <<"server">>, <<"state">>, <<"extensions">>, <<"custom_key">>],
    ?assertEqual(lists:sort(Expected), lists:sort(maps:keys(Seen))).

scope_defaults(#{node := N}) ->
    Seen = seen_scope(N, #{path => <<"/x">>}),
    ?assertEqual(#{<<"type">> => str(<<"http">>),
                   <<"asgi">> => {dict, #{<<"version">> => str(<<"3.0">>), <<"spec_version">> => str(<<"2.3">>)}},
                   <<"http_version">> => str(<<"1.1">>),
                   <<"method">> => str(<<"GET">>),
                   <<"scheme">> => str(<<"http">>),
                   <<"path">> => str(<<"/x">>),
                   <<"raw_path">> => bytes(<<"/x">>),
                   <<"query_string">> => bytes(<<>>),
                   <<"root_path">> => str(<<>>),
                   <<"headers">> => {list, []},
                   <<"client">> => none,
                   <<"server">> => none,
                   <<"state">> => {dict, #{}},
                   <<"extensions">> => {dict, #{}}},
                 Seen#{<<"headers">> := without_request_id(maps:get(<<"headers">>, Seen))}).

scope_path(#{node := N}) ->
    Path = <<"/caf%C3%A9/%e2%82%ac%20x%zz%">>,
    Seen = seen_scope(N, #{path => Path}),
    ?assertEqual(str(<<"/café/€ x%zz%"/utf8>>), maps:get(<<"path">>, Seen)),
    ?assertEqual(bytes(Path), maps:get(<<"raw_path">>, Seen)),
    Bad = seen_scope(N, #{path => <<"/bad%FF/raw", 16#FE>>}),
    ?assertEqual(str(<<"/bad", 16#FFFD/utf8, "/raw", 16#FFFD/utf8>>), maps:get(<<"path">>, Bad)).

scope_headers(#{node := N}) ->
    Headers = [case I rem 2 of
                   0 -> {<<"X-Dup">>, integer_to_binary(I)};
                   1 -> [<<"X-Header-", (integer_to_binary(I))/binary>>, <<"v", (integer_to_binary(I))/binary>>]
               end || I <- lists:seq(1, 100)],
    Seen = seen_scope(N, #{path => <<"/">>, headers => Headers}),
    Expected = [header(string:lowercase(Name), Value) || H <- Headers,
                                                         {Name, Value} <- [case H of
                                                                              {A, B} -> {A, B};
                                                                              [A, B] -> {A, B}
                                                                          end]],
    ?assertEqual({list, Expected}, without_request_id(maps:get(<<"headers">>, Seen))).

%% echo_scope changes state, asgi, extensions and headers after recording.
scope_isolation(#{node := N}) ->
    Scope = #{path => <<"/same">>, headers => [{<<"a">>, <<"1">>}], state => #{k => 1}},
    Seen = fun() ->
                   S = seen_scope(N, Scope),
                   S#{<<"headers">> := without_request_id(maps:get(<<"headers">>, S))}
           end,
    First = Seen(),
    [?assertEqual(First, Seen()) || _ <- lists:seq(1, 2 * ?WORKERS)],
    ?assertEqual({dict, #{<<"k">> => {int, 1}}}, maps:get(<<"state">>, First)).

%% The reference implementation's template cache was keyed on the path only.
template_isolation(#{node := N}) ->
    Variants = [#{},
                #{scheme => <<"https">>},
                #{http_version => <<"2">>},
                #{server => {<<"a.example">>, 8080}},
                #{server => {<<"a.example">>, 8081}},
                #{root_path => <<"/mounted">>},
                #{asgi => #{version => <<"3.0">>}},
                #{type => <<"websocket">>}],
    Fields = [scheme, http_version, server, root_path, asgi, type],
    Check = fun(Variant) ->
                    Seen = seen_scope(N, Variant#{path => <<"/same/path">>}),
                    Defaults = seen_defaults(),
                    [?assertEqual({F, maps:get(F, Variant, maps:get(F, Defaults))},
                                  {F, from_seen(F, maps:get(atom_to_binary(F), Seen))}) || F <- Fields]
            end,
    [Check(V) || _ <- lists:seq(1, 3), V <- Variants ++ lists:reverse(Variants)],
    %% More set-ups than a worker keeps templates for (64): evicted ones are rebuilt.
    Ports = [#{server => {<<"many.example">>, Port}} || Port <- lists:seq(1, 70)],
    [Check(V) || _ <- lists:seq(1, 2), V <- Ports].

seen_defaults() ->
    #{scheme => <<"http">>, http_version => <<"1.1">>, server => undefined, root_path => <<>>,
      asgi => #{version => <<"3.0">>, spec_version => <<"2.3">>}, type => <<"http">>}.

from_seen(server, none) -> undefined;
from_seen(server, {tuple, [{str, H}, {int, P}]}) -> {H, P};
from_seen(asgi, {dict, M}) -> maps:from_list([{binary_to_atom(K), V} || {K, {str, V}} <- maps:to_list(M)]);
from_seen(_, {str, S}) -> S.

body_bytes(#{node := N}) ->
    Body = list_to_binary(lists:seq(0, 255)),
    ?assertEqual({ok, {200, [{<<"x-body-type">>, <<"bytes">>}, {<<"x-body-length">>, <<"256">>}], Body}},
                 asgi(N, <<"echo_body">>, #{path => <<"/">>}, Body)),
    ?assertEqual({ok, {200, [{<<"x-body-type">>, <<"bytes">>}, {<<"x-body-length">>, <<"0">>}], <<>>}},
                 asgi(N, <<"echo_body">>, #{path => <<"/">>}, <<>>)).

big_bodies(#{node := N}) ->
    Size = 10 * 1024 * 1024,
    Body = binary:copy(list_to_binary(lists:seq(0, 255)), Size div 256),
    {ok, {200, Headers, Echoed}} = asgi(N, <<"echo_body">>, #{path => <<"/">>}, Body),
    ?assertEqual(<<"10485760">>, proplists:get_value(<<"x-body-length">>, Headers)),
    ?assert(Echoed =:= Body),
    {ok, {200, [], Big}} = asgi(N, <<"big_response">>, #{path => <<"/">>, query_string => integer_to_binary(Size)},
                                <<>>),
    ?assertEqual(Size, byte_size(Big)),
    ?assert(Big =:= Body).

%% Large packets' storage is kept and taken again (net/large_blocks.cpp):
%% rounds of 8 concurrent 1 MiB echoes, each body its own bytes, each echoed
%% whole; what is kept stays within its 64 MiB bound.
kept_packets(#{node := N}) ->
    Size = 1024 * 1024,
    Echo = fun(I) ->
                   Body = binary:copy(<<I:32, (I * 7):32>>, Size div 8),
                   {ok, {200, _, Echoed}} = asgi(N, <<"echo_body">>, #{path => <<"/">>}, Body),
                   Echoed =:= Body
           end,
    Self = self(),
    [begin
         Pids = [spawn_link(fun() -> Self ! {echoed, self(), Echo(Round * 8 + I)} end) || I <- lists:seq(1, 8)],
         ?assertEqual(lists:duplicate(8, true), [receive {echoed, P, Ok} -> Ok end || P <- Pids])
     end || Round <- lists:seq(1, 4)],
    {ok, #{large_packets_kept_bytes := Kept}} = pycnode:stats(N),
    ?assert(Kept >= Size),
    ?assert(Kept =< 64 * Size).

chunked(#{node := N}) ->
    ?assertEqual({ok, {201, [{<<"x-a">>, <<"1">>}, {<<"x-a">>, <<"2">>}, {<<"X-Case">>, <<"Kept">>}],
                       <<"one,two,three">>}},
                 asgi(N, <<"chunked">>, #{path => <<"/">>}, <<>>)).

sleeps(#{node := N}) ->
    [?assertEqual({ok, {200, [], <<"slept ", Delay/binary, " same_task=True">>}},
                  asgi(N, <<"sleeper">>, #{path => <<"/">>, query_string => Delay}, <<>>))
     || Delay <- [<<"0.01">>, <<"0.0">>, <<"0.01">>, <<"0.0">>]],
    T0 = erlang:monotonic_time(millisecond),
    {ok, {200, _, _}} = asgi(N, <<"sleeper">>, #{path => <<"/">>, query_string => <<"0.05">>}, <<>>),
    ?assert(erlang:monotonic_time(millisecond) - T0 >= 50).

executor(#{node := N}) ->
    {ok, {200, [], <<"ran in ", Thread/binary>>}} = asgi(N, <<"executor">>, #{path => <<"/">>}, <<>>),
    ?assertNotEqual(<<>>, Thread).

cancelled_timers(#{node := N}) ->
    Counts = [begin
                  {ok, {200, [], Count}} = asgi(N, <<"timer_canceller">>, #{path => <<"/">>}, <<>>),
                  binary_to_integer(Count)
              end || _ <- lists:seq(1, 500)],
    ?assert(lists:max(Counts) < 10).

protocol_errors(#{node := N}) ->
    Cases = [{<<"/body-before-start">>, <<"before http.response.start">>},
             {<<"/second-start">>, <<"sent twice">>},
             {<<"/unknown-event">>, <<"unknown event type">>},
             {<<"/str-header-name">>, <<"[bytes, bytes]">>},
             {<<"/str-header-value">>, <<"[bytes, bytes]">>},
             {<<"/str-body">>, <<"must be bytes">>},
             {<<"/str-status">>, <<"must be an int">>},
             {<<"/send-after-complete">>, <<"after the response was complete">>},
             {<<"/incomplete">>, <<"response incomplete">>},
             {<<"/no-type">>, <<"'type'">>},
             {<<"/crlf-header-value">>, <<"response header 1 value contains a control character">>},
             {<<"/nul-header-value">>, <<"response header 1 value contains a control character">>},
             {<<"/bad-header-name">>, <<"response header 1 name is not a valid HTTP header name">>},
             {<<"/empty-header-name">>, <<"response header 1 name is not a valid HTTP header name">>}],
    [begin
         Reply = asgi(N, <<"protocol_error">>, #{path => Path}, <<>>),
         ?assertMatch({Path, {error, {asgi_protocol, _}}}, {Path, Reply}),
         {error, {asgi_protocol, Detail}} = Reply,
         ?assertNotEqual({Path, nomatch}, {Path, binary:match(Detail, Fragment)})
     end || {Path, Fragment} <- Cases],
    ?assertMatch({error, {asgi_protocol, _}}, asgi(N, <<"caught_protocol_error">>, #{path => <<"/">>}, <<>>)),
    %% HTAB is the one control character a header value may hold.
    ?assertEqual({ok, {200, [{<<"x-tab">>, <<"a\tb">>}], <<"x">>}},
                 asgi(N, <<"protocol_error">>, #{path => <<"/tab-in-header-value">>}, <<>>)).

%% Every case runs on the native (C++) cycle and on pyrunner's HTTPCycle
%% (a runner that only awaits default_asgi_handler): the replies must be
%% equal, Python exceptions' tracebacks aside. A few are pinned outright,
%% so both cannot be wrong together.
native_cycle(P = #{node := N}) ->
    {ok, Paths} = call(N, {call, ?FIX, <<"cycle_case_paths">>, []}),
    ?assert(length(Paths) > 30),
    Run = fun(Path, Opts) -> without_traceback(asgi(N, <<"cycle_cases">>, #{path => Path}, <<"req">>, Opts)) end,
    Before = pycnode_harness:log_count(P, "after its response was complete"),
    Replies = [{Path, Run(Path, #{}), Run(Path, #{runner => <<"asgi_fixtures_reference">>})} || Path <- Paths],
    [?assertEqual({Path, Reference}, {Path, Native}) || {Path, Native, Reference} <- Replies],
    Native = maps:from_list([{Path, R} || {Path, R, _} <- Replies]),
    Text = [{<<"content-type">>, <<"text/plain">>}],
    ?assertEqual({ok, {200, Text, <<"body">>}}, maps:get(<<"/trailers">>, Native)),
    ?assertEqual({ok, {200, Text, <<"body-end">>}}, maps:get(<<"/chunks">>, Native)),
    ?assertEqual({ok, {200, Text, <<"mv!">>}}, maps:get(<<"/memoryview-body">>, Native)),
    ?assertEqual({ok, {201, Text, <<"body">>}}, maps:get(<<"/int-subclass-status">>, Native)),
    ?assertEqual({ok, {204, [], <<>>}}, maps:get(<<"/no-headers">>, Native)),
    ?assertEqual({ok, {200, [{<<"a">>, <<"1">>}], <<"body">>}}, maps:get(<<"/headers-generator">>, Native)),
    ?assertEqual({ok, {200, [], <<"kept">>}}, maps:get(<<"/raise-after-response">>, Native)),
    ?assertEqual({ok, {200, [], <<"done">>}}, maps:get(<<"/receive-after-response">>, Native)),
    ?assertMatch({ok, {200, [], <<"[{'type': 'http.request', 'body': b'req', 'more_body': False}, "
                                  "{'type': 'http.disconnect'}]">>}}, maps:get(<<"/receive-twice">>, Native)),
    ?assertMatch({ok, {200, [], <<"{'type': 'http.request', 'body': b'req', 'more_body': False}">>}},
                 maps:get(<<"/receive-in-task">>, Native)),
    ?assertEqual({error, {python, <<"AppError">>, <<"raised before responding">>}},
                 maps:get(<<"/raise-before-response">>, Native)),
    [?assertMatch({Path, {error, {asgi_protocol, _}}}, {Path, maps:get(Path, Native)})
     || Path <- [<<"/trailers-without-flag">>, <<"/trailers-before-last-body">>, <<"/trailers-bad-headers">>,
                 <<"/bool-status">>, <<"/float-status">>, <<"/huge-status">>, <<"/status-1000">>,
                 <<"/no-status">>, <<"/headers-not-iterable">>, <<"/headers-three-items">>, <<"/list-event">>,
                 <<"/none-event">>, <<"/int-type">>, <<"/raise-after-protocol-error">>]],
    %% Both paths logged the exception raised after the response.
    ?assertEqual(Before + 2, pycnode_harness:log_count(P, "after its response was complete")).

without_traceback({error, {python, Type, Message, _Traceback}}) -> {error, {python, Type, Message}};
without_traceback(Reply) -> Reply.

exceptions(P = #{node := N}) ->
    ?assertMatch({error, {python, <<"AppError">>, <<"raised before responding">>, <<"Traceback", _/binary>>}},
                 asgi(N, <<"raising">>, #{path => <<"/">>}, <<>>)),
    Before = pycnode_harness:log_count(P, "after its response was complete"),
    ?assertEqual({ok, {200, [], <<"complete">>}}, asgi(N, <<"raising_after_response">>, #{path => <<"/">>}, <<>>)),
    ?assertEqual(ok, wait_for_log(P, "after its response was complete", Before + 1)),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, asgi(N, <<"no_such_app">>, #{path => <<"/">>}, <<>>)).

wait_for_log(P, Pattern, Count) ->
    case pycnode_harness:wait_until(fun() -> pycnode_harness:log_count(P, Pattern) >= Count end, 5000, 20) of
        true -> ok;
        timeout -> {log_line_missing, Pattern}
    end.

no_response(#{node := N}) ->
    ?assertEqual({error, no_response}, asgi(N, <<"no_response">>, #{path => <<"/">>}, <<>>)).

%% Each worker runs the startup once; every request gets a fresh copy.
lifespan_state(#{node := N}) ->
    States = [begin
                  Id = integer_to_binary(erlang:unique_integer([positive])),
                  Scope = #{path => <<"/">>, headers => [{<<"x-request-id">>, Id}], state => #{mine => I}},
                  ?assertEqual({ok, {200, [], <<"ok">>}}, asgi(N, <<"with_lifespan">>, Scope, <<>>)),
                  {ok, {dict, State}} = call(N, {call, ?FIX, <<"scope_seen">>, [Id]}),
                  State
              end || I <- lists:seq(1, 4 * ?WORKERS)],
    [begin
         ?assertEqual({int, 1}, maps:get(<<"startups">>, S)),
         ?assertMatch({str, _}, maps:get(<<"started_on">>, S)),
         ?assertMatch({int, _}, maps:get(<<"mine">>, S))
     end || S <- States].

lifespan_failed(#{node := N}) ->
    [?assertEqual({error, {lifespan_failed, <<"database unreachable">>}},
                  asgi(N, <<"failing_lifespan">>, #{path => <<"/">>}, <<>>)) || _ <- lists:seq(1, 2 * ?WORKERS)],
    ?assertMatch({ok, {200, _, _}}, asgi(N, <<"hello">>, #{path => <<"/">>}, <<>>)).

custom_runners(#{node := N}) ->
    Scope = #{path => <<"/">>},
    ?assertEqual({ok, {200, [{<<"content-type">>, <<"text/plain">>}, {<<"x-runner">>, <<"asgi_fixtures">>}],
                       <<"Hello, world!">>}},
                 asgi(N, <<"hello">>, Scope, <<>>, #{runner => <<"asgi_fixtures">>})),
    Id = integer_to_binary(erlang:unique_integer([positive])),
    {ok, {200, _, _}} = asgi(N, <<"with_lifespan">>, Scope#{headers => [{<<"x-request-id">>, Id}]}, <<>>,
                             #{runner => <<"asgi_fixtures">>, ignored => true}),
    {ok, {dict, State}} = call(N, {call, ?FIX, <<"scope_seen">>, [Id]}),
    ?assertEqual({str, <<"asgi_fixtures">>}, maps:get(<<"runner">>, State)),
    ?assertEqual({int, 1}, maps:get(<<"startups">>, State)),
    ?assertEqual({ok, {200, [{<<"content-type">>, <<"text/plain">>}], <<"Hello, world!">>}},
                 asgi(N, <<"hello">>, Scope, <<>>, #{runner => <<"asgi_fixtures_sleepy_runner">>})),
    [?assertMatch({Runner, {error, {bad_result, _}}},
                  {Runner, asgi(N, <<"hello">>, Scope, <<>>, #{runner => Runner})})
     || Runner <- [<<"asgi_fixtures_bad_status">>, <<"asgi_fixtures_bad_headers">>,
                   <<"asgi_fixtures_bad_shape">>, <<"asgi_fixtures_not_async">>]],
    %% Header text that would split the HTTP response is refused from runners too.
    ?assertMatch({error, {asgi_protocol, <<"response header 1 value", _/binary>>}},
                 asgi(N, <<"hello">>, Scope, <<>>, #{runner => <<"asgi_fixtures_injecting">>})),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 asgi(N, <<"hello">>, Scope, <<>>, #{runner => <<"no_such_runner">>})),
    %% A protocol error inside the runner's default_asgi_handler is still one.
    ?assertMatch({error, {asgi_protocol, _}},
                 asgi(N, <<"protocol_error">>, #{path => <<"/second-start">>}, <<>>, #{runner => <<"asgi_fixtures">>})).

build_scope(#{node := N}) ->
    Scope = #{path => <<"/ref%20path">>, method => <<"put">>, scheme => <<"https">>,
              headers => [{<<"X-Ref">>, <<"yes">>}], server => {<<"srv">>, 80}, state => #{s => 1}},
    {ok, Ref} = call(N, {build_scope, Scope, #{}}),
    ?assert(is_reference(Ref)),
    ?assertEqual(N, node(Ref)),
    ByMap = seen_scope(N, Scope),
    [begin
         %% The reference's headers carry no request id: echo_scope files it
         %% under <<>>, and the map's is compared without its own.
         ?assertEqual({ok, {200, [], <<"recorded">>}}, asgi(N, <<"echo_scope">>, Ref, <<>>)),
         {ok, {dict, ByRef}} = call(N, {call, ?FIX, <<"scope_seen">>, [<<>>]}),
         ?assertEqual(ByMap#{<<"headers">> := without_request_id(maps:get(<<"headers">>, ByMap))}, ByRef)
     end || _ <- lists:seq(1, 2 * ?WORKERS)],
    ?assertEqual({ok, {200, [{<<"content-type">>, <<"text/plain">>}], <<"Hello, world!">>}},
                 asgi(N, <<"hello">>, Ref, <<>>)).

build_scope_errors(#{node := N}) ->
    ?assertEqual({error, unknown_scope}, asgi(N, <<"hello">>, make_ref(), <<>>)),
    ?assertMatch({error, {bad_request, <<"scope: path is required">>}}, call(N, {build_scope, #{}, #{}})),
    ?assertMatch({error, {bad_request, _}}, call(N, {build_scope, #{path => <<"/">>}, not_a_map})),
    ?assertMatch({error, {bad_request, _}}, call(N, {build_scope, not_a_map, #{}})),
    ?assertMatch({error, {bad_request, _}}, asgi(N, <<"hello">>, self(), <<>>)).

bad_requests(#{node := N}) ->
    ?assertMatch({error, {bad_request, <<"scope: path is required">>}}, asgi(N, <<"hello">>, #{}, <<>>)),
    ?assertMatch({error, {bad_request, <<"Body must be a binary">>}}, asgi(N, <<"hello">>, #{path => <<"/">>}, "x")),
    ?assertMatch({error, {bad_request, <<"Opts must be a map">>}}, asgi(N, <<"hello">>, #{path => <<"/">>}, <<>>, [])),
    ?assertMatch({error, {bad_request, <<"Opts: runner", _/binary>>}},
                 asgi(N, <<"hello">>, #{path => <<"/">>}, <<>>, #{runner => 42})),
    ?assertMatch({error, {bad_request, <<"scope: headers", _/binary>>}},
                 asgi(N, <<"hello">>, #{path => <<"/">>, headers => #{}}, <<>>)),
    ?assertMatch({error, {bad_request, <<"scope: header 1", _/binary>>}},
                 asgi(N, <<"hello">>, #{path => <<"/">>, headers => [{<<"a">>, 1}]}, <<>>)),
    ?assertMatch({error, {bad_request, <<"scope: client", _/binary>>}},
                 asgi(N, <<"hello">>, #{path => <<"/">>, client => <<"127.0.0.1">>}, <<>>)),
    ?assertMatch({error, {bad_request, <<"scope: state", _/binary>>}},
                 asgi(N, <<"echo_scope">>, #{path => <<"/">>, state => #{1 => a, 1.0 => b}}, <<>>)),
    ?assertMatch({error, {bad_request, <<"Module", _/binary>>}},
                 call(N, {asgi, <<>>, <<"hello">>, #{path => <<"/">>}, <<>>, #{}})),
    ?assertMatch({error, {bad_request, _}}, call(N, {asgi, ?FIX, <<"hello">>, #{path => <<"/">>}, <<>>})),
    ?assertMatch({ok, {200, _, _}}, asgi(N, <<"hello">>, #{path => <<"/">>}, <<>>)).

starlette(#{node := N}) ->
    Scope = #{path => <<"/hello/joe">>, server => {<<"localhost">>, 8000}, client => {<<"127.0.0.1">>, 1}},
    Run = fun(Path) -> asgi(N, <<"starlette_app">>, Scope#{path => Path}, <<>>) end,
    ?assertMatch({ok, {200, _, <<"async hello joe">>}}, Run(<<"/hello/joe">>)),
    [?assertMatch({ok, {200, _, <<"sync hello from ", _/binary>>}}, Run(<<"/sync">>)) || _ <- lists:seq(1, 4)],
    ?assertMatch({ok, {200, _, <<"abc">>}}, Run(<<"/stream">>)),
    ?assertMatch({ok, {404, _, _}}, Run(<<"/missing">>)).

concurrent(#{node := N}) ->
    Self = self(),
    Apps = [<<"hello">>, <<"sleeper">>, <<"echo_body">>, <<"starlette_app">>],
    Pids = [spawn_link(fun() ->
                               App = lists:nth(I rem length(Apps) + 1, Apps),
                               Path = case App of <<"starlette_app">> -> <<"/sync">>; _ -> <<"/">> end,
                               Self ! {done, self(), asgi(N, App, #{path => Path}, integer_to_binary(I))}
                       end) || I <- lists:seq(1, 200)],
    Replies = [receive {done, Pid, R} -> R after ?TIMEOUT -> timeout end || Pid <- Pids],
    ?assertEqual([], [R || R <- Replies, element(1, R) =/= ok]).

%% Last: it fills the node-wide store.
evicted(#{node := N}) ->
    {ok, First} = call(N, {build_scope, #{path => <<"/first">>}, #{}}),
    {ok, Kept} = call(N, {build_scope, #{path => <<"/kept">>}, #{}}),
    Refs = [begin
                {ok, R} = call(N, {build_scope, #{path => <<"/more">>}, #{}}),
                %% Using Kept keeps it the most recently used.
                case I rem 100 of 0 -> {ok, _} = asgi(N, <<"hello">>, Kept, <<>>); _ -> ok end,
                R
            end || I <- lists:seq(1, ?SCOPE_STORE_CAPACITY)],
    ?assertEqual({error, unknown_scope}, asgi(N, <<"hello">>, First, <<>>)),
    ?assertMatch({ok, {200, _, _}}, asgi(N, <<"hello">>, Kept, <<>>)),
    ?assertMatch({ok, {200, _, _}}, asgi(N, <<"hello">>, lists:last(Refs), <<>>)).
