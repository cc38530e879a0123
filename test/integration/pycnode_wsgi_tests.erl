%% {wsgi, Module, Callable, Environ, Opts} against the real binary, with the
%% WSGI apps of test/fixtures/wsgi_fixtures.py: the environ (types, values,
%% defaults, template isolation), wsgi.input, bodies of every byte value and
%% of 10 MiB, write(), generators, close(), exc_info, the breaches of PEP 3333,
%% wsgiref.validate, wsgi.file_wrapper, wsgi.errors, custom runners, Flask.
%%
%% Most cases run twice and must agree: natively, and through the runner
%% pyrunner.wsgi (default_wsgi_handler, the same rules in Python).
-module(pycnode_wsgi_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, <<"wsgi_fixtures">>).
-define(TIMEOUT, 60000).

wsgi_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("wsgi", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"hello", fun hello/1},
                 {"environ: every key's type and value", fun environ_types/1},
                 {"environ: defaults", fun environ_defaults/1},
                 {"environ: HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH", fun environ_http_content/1},
                 {"environ: templates never leak between requests", fun template_isolation/1},
                 {"environ: templates under concurrent requests", fun template_concurrency/1},
                 {"wsgi.input: read, read(n), readline, readlines, iteration", fun input_ops/1},
                 {"wsgi.input ends at CONTENT_LENGTH", fun input_content_length/1},
                 {"all 256 byte values both ways", fun all_bytes/1},
                 {"10 MiB bodies both ways", fun ten_mib/1},
                 {"write() callable", fun write_callable/1},
                 {"generator bodies", fun generator/1},
                 {"write() from several threads at once", fun threaded_writes/1},
                 {"write() and start_response after the response", fun late_calls/1},
                 {"close() is always called", fun close_always/1},
                 {"exc_info", fun exc_info/1},
                 {"breaches of PEP 3333", fun breaches/1},
                 {"latin-1 status and header values", fun latin1_headers/1},
                 {"wsgiref.validate runs clean", fun validated/1},
                 {"wsgi.file_wrapper", fun file_wrapper/1},
                 {"wsgi.errors goes to the log", fun errors_stream/1},
                 {"custom runner", fun custom_runner/1},
                 {"malformed requests", fun bad_requests/1},
                 {"Flask", fun flask/1}
             ], 120)
     end}.

%% --- helpers ---------------------------------------------------------------

run(N, App, Env) -> run(N, App, Env, #{}).

run(N, App, Env, Opts) ->
    gen_server:call({pycnode, N}, {wsgi, ?FIX, App, Env, Opts}, ?TIMEOUT).

%% Runs natively and through pyrunner.wsgi; both must answer alike.
both(N, App, Env) ->
    Native = run(N, App, Env),
    Python = run(N, App, Env, #{runner => <<"pyrunner.wsgi">>}),
    ?assertEqual(comparable(Native), comparable(Python)),
    Native.

comparable({error, {python, Type, Message, _Traceback}}) -> {error, {python, Type, Message}};
comparable(Other) -> Other.

env(Extra) ->
    maps:merge(#{<<"REQUEST_METHOD">> => <<"GET">>, <<"SCRIPT_NAME">> => <<>>, <<"PATH_INFO">> => <<"/">>,
                 <<"QUERY_STRING">> => <<>>, <<"SERVER_NAME">> => <<"localhost">>,
                 <<"SERVER_PORT">> => <<"8080">>, <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>,
                 <<"wsgi.url_scheme">> => <<"http">>, <<"wsgi.input">> => <<>>}, Extra).

new_id() -> integer_to_binary(erlang:unique_integer([positive])).

with_id(Env) ->
    Id = new_id(),
    {Id, Env#{<<"HTTP_X_REPORT">> => Id}}.

report(N, Id) ->
    {ok, Report} = gen_server:call({pycnode, N}, {call, ?FIX, <<"report">>, [Id]}, ?TIMEOUT),
    Report.

%% The environ an app saw, as #{Key => {TypeName, Value}}.
seen_environ(N, Env) ->
    {Id, Env1} = with_id(Env),
    {ok, {<<"200 OK">>, _, _}} = run(N, <<"echo_environ">>, Env1),
    maps:remove(<<"HTTP_X_REPORT">>, report(N, Id)).

str(Report, Key) ->
    {<<"str">>, Value} = maps:get(Key, Report),
    Value.

protocol(Detail) -> {error, {wsgi_protocol, Detail}}.

text_plain() -> [{<<"Content-Type">>, <<"text/plain">>}].

%% --- tests -----------------------------------------------------------------

hello(#{node := N}) ->
    ?assertEqual({ok, {<<"200 OK">>, [{<<"Content-Type">>, <<"text/plain">>}, {<<"Content-Length">>, <<"13">>}],
                       <<"Hello, World!">>}},
                 both(N, <<"hello">>, env(#{}))).

environ_types(#{node := N}) ->
    Path = <<"/caf", 16#e9, "/", (list_to_binary(lists:seq(16#80, 16#ff)))/binary>>,
    Env = env(#{<<"REQUEST_METHOD">> => <<"POST">>, <<"PATH_INFO">> => Path,
                <<"QUERY_STRING">> => <<"a=1&b=%20">>, <<"CONTENT_TYPE">> => <<"text/plain">>,
                <<"HTTP_HOST">> => <<"example.org:8080">>, <<"HTTP_X_LATIN1">> => <<"caf", 16#e9>>,
                <<"REMOTE_ADDR">> => <<"127.0.0.1">>, <<"wsgi.input">> => <<"abc">>,
                <<"wsgi.version">> => {1, 0}, <<"myapp.user">> => {1, <<"x">>}}),
    Seen = seen_environ(N, Env),
    Strings = #{<<"REQUEST_METHOD">> => <<"POST">>, <<"SCRIPT_NAME">> => <<>>, <<"PATH_INFO">> => Path,
                <<"QUERY_STRING">> => <<"a=1&b=%20">>, <<"CONTENT_TYPE">> => <<"text/plain">>,
                <<"CONTENT_LENGTH">> => <<"3">>, <<"SERVER_NAME">> => <<"localhost">>,
                <<"SERVER_PORT">> => <<"8080">>, <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>,
                <<"HTTP_HOST">> => <<"example.org:8080">>, <<"HTTP_X_LATIN1">> => <<"caf", 16#e9>>,
                <<"REMOTE_ADDR">> => <<"127.0.0.1">>, <<"wsgi.url_scheme">> => <<"http">>},
    Others = [<<"wsgi.version">>, <<"wsgi.input">>, <<"wsgi.errors">>, <<"wsgi.file_wrapper">>,
              <<"wsgi.multithread">>, <<"wsgi.multiprocess">>, <<"wsgi.run_once">>,
              <<"wsgi.input_terminated">>, <<"myapp.user">>],
    ?assertEqual(lists:sort(maps:keys(Strings) ++ Others), lists:sort(maps:keys(Seen))),
    [?assertEqual({Key, {<<"str">>, Value}}, {Key, maps:get(Key, Seen)}) || {Key, Value} <- maps:to_list(Strings)],
    ?assertEqual({<<"tuple">>, {1, 0}}, maps:get(<<"wsgi.version">>, Seen)),
    ?assertEqual({<<"bool">>, true}, maps:get(<<"wsgi.multithread">>, Seen)),
    ?assertEqual({<<"bool">>, true}, maps:get(<<"wsgi.multiprocess">>, Seen)),
    ?assertEqual({<<"bool">>, false}, maps:get(<<"wsgi.run_once">>, Seen)),
    ?assertEqual({<<"bool">>, true}, maps:get(<<"wsgi.input_terminated">>, Seen)),
    ?assertEqual({<<"tuple">>, {1, <<"x">>}}, maps:get(<<"myapp.user">>, Seen)),
    {<<"BytesIO">>, InputMethods} = maps:get(<<"wsgi.input">>, Seen),
    ?assertEqual([], [<<"read">>, <<"readline">>, <<"readlines">>, <<"__iter__">>] -- InputMethods),
    ?assertEqual({<<"ErrorStream">>, [<<"write">>, <<"writelines">>, <<"flush">>]},
                 maps:get(<<"wsgi.errors">>, Seen)),
    ?assertMatch({<<"type">>, _}, maps:get(<<"wsgi.file_wrapper">>, Seen)),
    %% The path came back as the body, latin-1 encoded again.
    ?assertMatch({ok, {<<"200 OK">>, _, Path}}, run(N, <<"echo_environ">>, element(2, with_id(Env)))),
    ?assertEqual(<<"abc">>, element(3, element(2, run(N, <<"echo_body">>, Env)))).

environ_defaults(#{node := N}) ->
    Seen = seen_environ(N, #{}),
    ?assertEqual(#{<<"REQUEST_METHOD">> => <<"GET">>, <<"SCRIPT_NAME">> => <<>>, <<"PATH_INFO">> => <<>>,
                   <<"QUERY_STRING">> => <<>>, <<"SERVER_NAME">> => <<"localhost">>,
                   <<"SERVER_PORT">> => <<"80">>, <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>,
                   <<"wsgi.url_scheme">> => <<"http">>},
                 maps:from_list([{K, V} || {K, {<<"str">>, V}} <- maps:to_list(Seen)])),
    ?assertEqual({<<"tuple">>, {1, 0}}, maps:get(<<"wsgi.version">>, Seen)),
    Https = seen_environ(N, #{<<"wsgi.url_scheme">> => <<"https">>}),
    ?assertEqual(<<"443">>, str(Https, <<"SERVER_PORT">>)),
    ?assertEqual(<<"https">>, str(Https, <<"wsgi.url_scheme">>)),
    %% Given values are kept as given, empty ones included.
    Empty = seen_environ(N, #{<<"CONTENT_TYPE">> => <<>>, <<"HTTP_ACCEPT">> => <<>>}),
    ?assertEqual(<<>>, str(Empty, <<"CONTENT_TYPE">>)),
    ?assertEqual(<<>>, str(Empty, <<"HTTP_ACCEPT">>)),
    ?assertNot(maps:is_key(<<"CONTENT_LENGTH">>, Empty)),
    %% A wsgi.version other than {1, 0} is passed on; wsgi.errors given is ignored.
    Other = seen_environ(N, #{<<"wsgi.version">> => {1, 1}, <<"wsgi.errors">> => <<"mine">>}),
    ?assertEqual({<<"tuple">>, {1, 1}}, maps:get(<<"wsgi.version">>, Other)),
    ?assertMatch({<<"ErrorStream">>, _}, maps:get(<<"wsgi.errors">>, Other)).

environ_http_content(#{node := N}) ->
    Moved = seen_environ(N, #{<<"HTTP_CONTENT_TYPE">> => <<"a/b">>, <<"HTTP_CONTENT_LENGTH">> => <<"2">>,
                              <<"wsgi.input">> => <<"xyz">>}),
    ?assertEqual(<<"a/b">>, str(Moved, <<"CONTENT_TYPE">>)),
    ?assertEqual(<<"2">>, str(Moved, <<"CONTENT_LENGTH">>)),
    ?assertNot(maps:is_key(<<"HTTP_CONTENT_TYPE">>, Moved)),
    ?assertNot(maps:is_key(<<"HTTP_CONTENT_LENGTH">>, Moved)),
    Both = seen_environ(N, #{<<"HTTP_CONTENT_TYPE">> => <<"a/b">>, <<"CONTENT_TYPE">> => <<"c/d">>}),
    ?assertEqual(<<"c/d">>, str(Both, <<"CONTENT_TYPE">>)),
    ?assertNot(maps:is_key(<<"HTTP_CONTENT_TYPE">>, Both)).

%% Requests alternate between set-ups that differ in one template field
%% each; every request must see exactly its own values.
template_variants() ->
    [#{},
     #{<<"SERVER_NAME">> => <<"a.example">>},
     #{<<"SERVER_NAME">> => <<"b.example">>},
     #{<<"SERVER_PORT">> => <<"9999">>},
     #{<<"wsgi.url_scheme">> => <<"https">>},
     #{<<"wsgi.url_scheme">> => <<"https">>, <<"SERVER_PORT">> => <<"8443">>},
     #{<<"SERVER_PROTOCOL">> => <<"HTTP/1.0">>},
     #{<<"SCRIPT_NAME">> => <<"/app">>},
     #{<<"wsgi.multithread">> => false},
     #{<<"wsgi.multiprocess">> => false},
     #{<<"wsgi.run_once">> => true}].

check_template(Seen, Env) ->
    Strings = [<<"SERVER_NAME">>, <<"SERVER_PORT">>, <<"SERVER_PROTOCOL">>, <<"SCRIPT_NAME">>,
               <<"wsgi.url_scheme">>],
    [?assertEqual({K, maps:get(K, Env)}, {K, str(Seen, K)}) || K <- Strings],
    Flags = [{<<"wsgi.multithread">>, true}, {<<"wsgi.multiprocess">>, true}, {<<"wsgi.run_once">>, false}],
    [?assertEqual({K, {<<"bool">>, maps:get(K, Env, Default)}}, {K, maps:get(K, Seen)}) || {K, Default} <- Flags].

template_isolation(#{node := N}) ->
    Envs = [env(V) || V <- template_variants()],
    [check_template(seen_environ(N, E), E) || _ <- lists:seq(1, 4), E <- Envs ++ lists:reverse(Envs)].

template_concurrency(#{node := N}) ->
    Self = self(),
    Pids = [spawn_link(fun() ->
                               Env = env(#{<<"SERVER_NAME">> => <<"host", (integer_to_binary(I))/binary>>,
                                           <<"SERVER_PORT">> => integer_to_binary(1000 + I)}),
                               Results = [catch check_template(seen_environ(N, Env), Env) || _ <- lists:seq(1, 5)],
                               Self ! {self(), [R || R <- Results, not is_list(R)]}
                       end) || I <- lists:seq(1, 64)],
    ?assertEqual([[] || _ <- Pids], [receive {P, Failures} -> Failures after ?TIMEOUT -> timeout end || P <- Pids]).

input(N, Op, Env) ->
    {Id, Env1} = with_id(Env#{<<"QUERY_STRING">> => Op}),
    {ok, {<<"200 OK">>, _, <<>>}} = run(N, <<"input_ops">>, Env1),
    report(N, Id).

input_ops(#{node := N}) ->
    Body = <<"line1\nline2\r\nno newline at end">>,
    Lines = [<<"line1\n">>, <<"line2\r\n">>, <<"no newline at end">>],
    Env = env(#{<<"REQUEST_METHOD">> => <<"POST">>, <<"wsgi.input">> => Body}),
    ?assertEqual([Body], input(N, <<"read">>, Env)),
    ?assertEqual([Body], input(N, <<"read_minus_one">>, Env)),
    ?assertEqual([<<"line1\nli">>, <<"ne2\r\nno ">>, <<"newline ">>, <<"at end">>, <<>>],
                 input(N, <<"read_n=8">>, Env)),
    ?assertEqual(Lines ++ [<<>>], input(N, <<"readline">>, Env)),
    ?assertEqual([<<"line">>, <<"1\n">>, <<"line">>, <<"2\r\n">>, <<"no n">>, <<"ewli">>, <<"ne a">>,
                  <<"t en">>, <<"d">>],
                 input(N, <<"readline_n=4">>, Env)),
    ?assertEqual(Lines, input(N, <<"readlines">>, Env)),
    ?assertEqual(lists:sublist(Lines, 2), input(N, <<"readlines_hint=7">>, Env)),
    ?assertEqual(Lines, input(N, <<"iter">>, Env)),
    ?assertEqual([<<>>], input(N, <<"read">>, env(#{}))),
    ?assertEqual([], input(N, <<"iter">>, env(#{}))).

input_content_length(#{node := N}) ->
    Body = <<"line1\nline2\n">>,
    Short = env(#{<<"wsgi.input">> => Body, <<"CONTENT_LENGTH">> => <<"8">>}),
    ?assertEqual([<<"line1\nli">>], input(N, <<"read">>, Short)),
    ?assertEqual([<<"line1\n">>, <<"li">>, <<>>], input(N, <<"readline">>, Short)),
    ?assertEqual([<<"line1\n">>, <<"li">>], input(N, <<"iter">>, Short)),
    %% Longer than the body, or not a number: the body's end is EOF.
    Long = env(#{<<"wsgi.input">> => Body, <<"CONTENT_LENGTH">> => <<"1000">>}),
    ?assertEqual([Body], input(N, <<"read">>, Long)),
    Junk = env(#{<<"wsgi.input">> => Body, <<"CONTENT_LENGTH">> => <<"12abc">>}),
    ?assertEqual([Body], input(N, <<"read">>, Junk)).

all_bytes(#{node := N}) ->
    Bytes = list_to_binary(lists:seq(0, 255)),
    Body = binary:copy(Bytes, 4),
    ?assertEqual({ok, {<<"200 OK">>, [{<<"Content-Type">>, <<"application/octet-stream">>}], Body}},
                 both(N, <<"echo_body">>, env(#{<<"wsgi.input">> => Body}))),
    Path = <<"/", Bytes/binary>>,
    ?assertEqual(Path, str(seen_environ(N, env(#{<<"PATH_INFO">> => Path})), <<"PATH_INFO">>)),
    {_, PathEnv} = with_id(env(#{<<"PATH_INFO">> => Path})),
    ?assertMatch({ok, {<<"200 OK">>, _, Path}}, run(N, <<"echo_environ">>, PathEnv)).

ten_mib(#{node := N}) ->
    Size = 10 * 1024 * 1024,
    Body = crypto:strong_rand_bytes(Size),
    {ok, {<<"200 OK">>, _, Echoed}} = run(N, <<"echo_body">>, env(#{<<"wsgi.input">> => Body})),
    ?assert(Echoed =:= Body),
    {ok, {<<"200 OK">>, _, Echoed2}} = run(N, <<"echo_body">>, env(#{<<"wsgi.input">> => Body}),
                                           #{runner => <<"pyrunner.wsgi">>}),
    ?assert(Echoed2 =:= Body),
    {ok, {<<"200 OK">>, _, Big}} = run(N, <<"big_response">>, env(#{<<"QUERY_STRING">> => integer_to_binary(Size + 7)})),
    ?assertEqual(Size + 7, byte_size(Big)),
    ?assertEqual(binary:copy(list_to_binary(lists:seq(0, 255)), 4), binary:part(Big, 0, 1024)),
    ?assertEqual(<<0:56>>, binary:part(Big, Size, 7)).

write_callable(#{node := N}) ->
    ?assertEqual({ok, {<<"200 OK">>, text_plain(), <<"one,two,three,four">>}},
                 both(N, <<"write_callable">>, env(#{}))).

generator(#{node := N}) ->
    ?assertEqual({ok, {<<"200 OK">>, text_plain(), <<"chunk0;chunk1;chunk2;">>}},
                 both(N, <<"generator">>, env(#{}))).

threaded_writes(#{node := N}) ->
    Expected = {ok, {<<"200 OK">>, text_plain(), <<(binary:copy(<<"x">>, 8000))/binary, "done">>}},
    [?assertEqual(Expected, both(N, <<"threaded_writes">>, env(#{}))) || _ <- lists:seq(1, 5)].

late_calls(#{node := N}) ->
    Late = fun(F) -> short(gen_server:call({pycnode, N}, {call, ?FIX, F, []}, ?TIMEOUT)) end,
    [begin
         ?assertEqual({ok, {<<"200 OK">>, text_plain(), <<"kept">>}}, run(N, <<"keeps_write">>, env(#{}), Opts)),
         ?assertEqual({python, <<"WSGIProtocolError">>, <<"write() called after the response was complete">>},
                      Late(<<"late_write">>)),
         ?assertEqual({python, <<"WSGIProtocolError">>,
                       <<"start_response called after the response was complete">>},
                      Late(<<"late_start_response">>))
     end || Opts <- [#{}, #{runner => <<"pyrunner.wsgi">>}]].

%% How each closing mode ends, and that close() ran exactly once, on both paths.
close_always(#{node := N}) ->
    Cases = [{<<"ok">>, {ok, {<<"200 OK">>, text_plain(), <<"ab">>}}},
             {<<"raise">>, {python, <<"ValueError">>, <<"failed while iterating">>}},
             {<<"not_bytes">>, protocol(<<"response body items must be bytes, not str">>)},
             {<<"close_raises">>, {python, <<"RuntimeError">>, <<"close failed">>}},
             {<<"raise_then_close_raises">>, {python, <<"ValueError">>, <<"failed while iterating">>}}],
    [begin
         {Id, Env} = with_id(env(#{<<"QUERY_STRING">> => Mode})),
         ?assertEqual({Mode, Runner, Expected}, {Mode, Runner, short(run(N, <<"closing">>, Env, Opts))}),
         ?assertEqual({Mode, Runner, #{<<"closed">> => 1}}, {Mode, Runner, report(N, Id)})
     end || {Mode, Expected} <- Cases, {Runner, Opts} <- [{native, #{}}, {python, #{runner => <<"pyrunner.wsgi">>}}]],
    [begin
         {Id, Env} = with_id(env(#{})),
         ?assertEqual(protocol(<<"start_response was not called">>), run(N, <<"closing_no_start">>, Env, Opts)),
         ?assertEqual(#{<<"closed">> => 1}, report(N, Id))
     end || Opts <- [#{}, #{runner => <<"pyrunner.wsgi">>}]].

short({error, {python, Type, Message, _}}) -> {python, Type, Message};
short(Other) -> Other.

exc_info(#{node := N}) ->
    ?assertEqual({ok, {<<"500 Internal Server Error">>, text_plain(), <<"error page">>}},
                 both(N, <<"exc_info_before_sent">>, env(#{}))),
    {error, {python, <<"ValueError">>, <<"too late">>, Traceback}} = both(N, <<"exc_info_after_sent">>, env(#{})),
    ?assertMatch({match, _}, re:run(Traceback, "exc_info_after_sent")),
    ?assertEqual(protocol(<<"start_response called a second time without exc_info">>),
                 both(N, <<"second_start_response">>, env(#{}))).

breaches(#{node := N}) ->
    Env = env(#{}),
    ?assertEqual(protocol(<<"start_response was not called">>), both(N, <<"no_start_response">>, Env)),
    ?assertEqual(protocol(<<"start_response was not called">>), both(N, <<"no_start_response_empty">>, Env)),
    ?assertEqual(protocol(<<"start_response: headers[1] is the hop-by-hop header Connection, "
                            "which a WSGI application must not send">>),
                 both(N, <<"hop_by_hop">>, Env)),
    ?assertEqual(protocol(<<"start_response: headers[1] is the hop-by-hop header Transfer-Encoding, "
                            "which a WSGI application must not send">>),
                 both(N, <<"hop_by_hop_swallowed">>, Env)),
    ?assertEqual(protocol(<<"response body items must be bytes, not str">>), both(N, <<"not_bytes_item">>, Env)),
    ?assertEqual(protocol(<<"the application returned bytes; it must return an iterable of bytes, such as [body]">>),
                 both(N, <<"returns_bytes">>, Env)),
    ?assertEqual(protocol(<<"start_response: headers[0] name must be a str, not bytes">>),
                 both(N, <<"bytes_headers">>, Env)),
    BadStatus = protocol(<<"start_response: status must be a 3-digit code, a space and a reason phrase, "
                           "like \"200 OK\"">>),
    [?assertEqual({S, BadStatus}, {S, both(N, <<"bad_status">>, env(#{<<"QUERY_STRING">> => S}))})
     || S <- [<<"200OK">>, <<"200">>, <<"20 OK">>, <<"099 Low">>, <<"2000 OK">>, <<"200 a\nb">>, <<" 200 OK">>]],
    ?assertEqual({ok, {<<"299 ">>, [], <<>>}}, both(N, <<"bad_status">>, env(#{<<"QUERY_STRING">> => <<"299 ">>}))),
    ?assertMatch({error, {python, <<"KeyError">>, <<"'missing'">>, _}}, both(N, <<"raises">>, Env)).

latin1_headers(#{node := N}) ->
    ?assertEqual({ok, {<<"200 Ok ", 16#e9>>, [{<<"Content-Type">>, <<"text/plain">>},
                                              {<<"X-Latin1">>, <<"caf", 16#e9, " ", 16#ff>>}], <<>>}},
                 both(N, <<"latin1_headers">>, env(#{}))).

validated(#{node := N}) ->
    Envs = [env(#{}),
            env(#{<<"REQUEST_METHOD">> => <<"POST">>, <<"CONTENT_TYPE">> => <<"text/plain">>,
                  <<"wsgi.input">> => <<"first line\nsecond line\n">>}),
            env(#{<<"wsgi.url_scheme">> => <<"https">>, <<"SCRIPT_NAME">> => <<"/app">>,
                  <<"HTTP_CONTENT_LENGTH">> => <<"3">>, <<"wsgi.input">> => <<"abcdef">>}),
            #{<<"wsgi.input">> => <<"minimal">>}],
    [begin
         {Id, Env1} = with_id(Env),
         Body = maps:get(<<"wsgi.input">>, Env),
         Read = binary:part(Body, 0, min(byte_size(Body), binary_to_integer(
                    maps:get(<<"HTTP_CONTENT_LENGTH">>, Env, integer_to_binary(byte_size(Body)))))),
         ?assertEqual({ok, {<<"200 OK">>, text_plain(), <<"body:", Read/binary>>}},
                      run(N, <<"validated">>, Env1, Opts)),
         ?assertEqual(#{<<"closed">> => 1}, report(N, Id))
     end || Env <- Envs, Opts <- [#{}, #{runner => <<"pyrunner.wsgi">>}]].

file_wrapper(#{node := N}) ->
    [begin
         {Id, Env} = with_id(env(#{<<"QUERY_STRING">> => integer_to_binary(Size)})),
         {ok, {<<"200 OK">>, _, Body}} = run(N, <<"file_wrapper">>, Env, Opts),
         {ok, {Content, Closed}} = gen_server:call({pycnode, N}, {call, ?FIX, <<"file_wrapper_report">>, [Id]}),
         ?assertEqual(Size, byte_size(Body)),
         ?assert(Body =:= Content),
         ?assertEqual(true, Closed)
     end || Size <- [0, 1, 4096, 1024 * 1024 + 3], Opts <- [#{}, #{runner => <<"pyrunner.wsgi">>}]].

errors_stream(#{node := N} = P) ->
    Marker = <<"marker", (new_id())/binary>>,
    {ok, {<<"200 OK">>, _, <<>>}} = run(N, <<"errors_stream">>, env(#{<<"HTTP_X_REPORT">> => Marker})),
    Lines = [["wsgi.errors: line one ", Marker], ["wsgi.errors: line two ", Marker],
             ["wsgi.errors: partial ", Marker], ["wsgi.errors: printed ", Marker]],
    ?assertEqual([1, 1, 1, 1],
                 [pycnode_harness:wait_until(fun() -> pycnode_harness:log_count(P, L) =:= 1 andalso {true, 1} end,
                                             5000, 50) || L <- Lines]).

custom_runner(#{node := N}) ->
    Run = fun(Mode, App) -> short(run(N, App, env(#{<<"HTTP_X_RUNNER">> => Mode}), #{runner => ?FIX})) end,
    ?assertEqual({ok, {<<"200 OK">>, text_plain() ++ [{<<"X-Runner">>, <<"wsgi_fixtures">>}], <<"from the runner">>}},
                 Run(<<"ok">>, <<"runner_sees">>)),
    ?assertEqual({ok, {<<"201 Created">>, [{<<"X-A">>, <<"1">>}, {<<"X-B">>, <<"2">>}], <<"made">>}},
                 Run(<<"bytes_everywhere">>, <<"hello">>)),
    ?assertEqual({error, {bad_result, <<"run_wsgi must return a (status, headers, body) tuple, not list">>}},
                 Run(<<"bad_tuple">>, <<"hello">>)),
    ?assertEqual({error, {bad_result, <<"run_wsgi result: status must be a 3-digit code, a space and a reason "
                                        "phrase, like \"200 OK\"">>}},
                 Run(<<"bad_status">>, <<"hello">>)),
    ?assertEqual({error, {bad_result, <<"run_wsgi result: headers[0] is the hop-by-hop header Connection, "
                                        "which a WSGI application must not send">>}},
                 Run(<<"bad_header">>, <<"hello">>)),
    ?assertEqual({error, {bad_result, <<"run_wsgi result: body must be bytes, not str">>}},
                 Run(<<"bad_body">>, <<"hello">>)),
    ?assertEqual({python, <<"LookupError">>, <<"runner failed">>}, Run(<<"raise">>, <<"hello">>)),
    ?assertEqual(protocol(<<"start_response was not called">>), Run(<<"ok">>, <<"no_start_response">>)),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 run(N, <<"hello">>, env(#{}), #{runner => <<"no_such_runner_module">>})),
    %% The default runner, named explicitly, is the native path in Python.
    ?assertEqual(run(N, <<"hello">>, env(#{})), run(N, <<"hello">>, env(#{}), #{runner => <<"pyrunner.wsgi">>})).

bad_requests(#{node := N}) ->
    Call = fun(Request) -> gen_server:call({pycnode, N}, Request, ?TIMEOUT) end,
    Bad = fun(Detail) -> {error, {bad_request, Detail}} end,
    ?assertEqual(Bad(<<"expected {wsgi, Module :: binary(), Callable :: binary(), Environ :: map(), Opts :: map()}">>),
                 Call({wsgi, ?FIX, <<"hello">>, #{}})),
    ?assertEqual(Bad(<<"Module must be a non-empty UTF-8 binary">>), Call({wsgi, <<>>, <<"hello">>, #{}, #{}})),
    ?assertEqual(Bad(<<"Callable must be a non-empty UTF-8 binary">>), Call({wsgi, ?FIX, hello, #{}, #{}})),
    ?assertEqual(Bad(<<"Environ must be a map with binary keys">>), Call({wsgi, ?FIX, <<"hello">>, [], #{}})),
    ?assertEqual(Bad(<<"Opts must be a map">>), Call({wsgi, ?FIX, <<"hello">>, #{}, []})),
    ?assertEqual(Bad(<<"Opts runner must be a non-empty UTF-8 binary (a module name)">>),
                 Call({wsgi, ?FIX, <<"hello">>, #{}, #{runner => mod}})),
    Env = fun(E) -> Call({wsgi, ?FIX, <<"hello">>, E, #{unknown_option => 1}}) end,
    ?assertEqual(Bad(<<"environ keys must be non-empty binaries">>), Env(#{'PATH_INFO' => <<"/">>})),
    ?assertEqual(Bad(<<"environ SERVER_PORT must be a binary (a CGI value)">>), Env(#{<<"SERVER_PORT">> => 80})),
    ?assertEqual(Bad(<<"environ \\xff\\x00KEY must be a binary (a CGI value)">>),
                 Env(#{<<255, 0, "KEY">> => 1})),
    [?assertEqual(Bad(<<"environ ", K/binary, " must not be empty">>), Env(#{K => <<>>}))
     || K <- [<<"REQUEST_METHOD">>, <<"SERVER_NAME">>, <<"SERVER_PORT">>]],
    ?assertEqual(Bad(<<"environ wsgi.input must be a binary (the request body)">>),
                 Env(#{<<"wsgi.input">> => [<<"io">>, <<"list">>]})),
    ?assertEqual(Bad(<<"environ wsgi.url_scheme must be a non-empty binary">>), Env(#{<<"wsgi.url_scheme">> => http})),
    ?assertEqual(Bad(<<"environ wsgi.run_once must be true or false">>), Env(#{<<"wsgi.run_once">> => 0})),
    ?assertEqual(Bad(<<"environ wsgi.version must be a tuple of two integers, like {1, 0}">>),
                 Env(#{<<"wsgi.version">> => [1, 0]})),
    ?assertMatch({error, {bad_request, <<"environ my.map: ", _/binary>>}}, Env(#{<<"my.map">> => #{[1] => 1}})),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 Call({wsgi, <<"no_such_wsgi_module">>, <<"app">>, #{}, #{}})),
    ?assertEqual({ok, {<<"200 OK">>, [{<<"Content-Type">>, <<"text/plain">>}, {<<"Content-Length">>, <<"13">>}],
                       <<"Hello, World!">>}}, Env(#{})).

flask(#{node := N}) ->
    ?assertMatch({ok, {<<"200 OK">>, _, <<"Hello, Erlang!">>}},
                 run(N, <<"flask_app">>, env(#{<<"PATH_INFO">> => <<"/hello/Erlang">>}))),
    Json = <<"{\"x\": [1, 2]}">>,
    {ok, {<<"200 OK">>, Headers, Body}} =
        run(N, <<"flask_app">>, env(#{<<"REQUEST_METHOD">> => <<"POST">>, <<"PATH_INFO">> => <<"/echo">>,
                                      <<"QUERY_STRING">> => <<"q=%C3%A9">>,
                                      <<"CONTENT_TYPE">> => <<"application/json">>,
                                      <<"wsgi.input">> => Json})),
    ?assertEqual(<<"application/json">>, proplists:get_value(<<"Content-Type">>, Headers)),
    ?assertMatch({match, _}, re:run(Body, "\"got\": ?\\{\"x\": ?\\[1, ?2\\]\\}")),
    ?assertMatch({match, _}, re:run(Body, "\"q\": ?\"\\\\u00e9\"")),
    ?assertMatch({ok, {<<"404 NOT FOUND">>, _, _}}, run(N, <<"flask_app">>, env(#{<<"PATH_INFO">> => <<"/nope">>}))),
    ?assertMatch({ok, {<<"200 OK">>, _, <<"Hello, again!">>}},
                 run(N, <<"flask_app">>, env(#{<<"PATH_INFO">> => <<"/hello/again">>}),
                     #{runner => <<"pyrunner.wsgi">>})).
