%% The web API against the real binary: py_asgi:run/4,5, py_asgi:build_scope/1,2
%% and py_wsgi:run/3,4 with the raw apps of test/fixtures/web_api_fixtures.py,
%% then pycnode_httpd end to end: an inets httpd on a free port, real HTTP
%% requests with httpc, the fixtures and the Starlette and Flask examples
%% (examples/) behind it.
%%
%% The echo apps answer JSON describing what they received; the tests decode
%% it with Python's json module through pycnode:call (OTP 25 has no JSON).
-module(pycnode_web_api_tests).

-include_lib("eunit/include/eunit.hrl").

%% A logger handler that forwards events to a test process.
-export([log/2]).

-define(FIX, web_api_fixtures).
-define(MiB, (1024 * 1024)).

api_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("web_api", #{workers => 4}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"asgi: every scope field reaches the app as the spec says", fun asgi_scope/1},
                 {"asgi: defaults for a scope with only a path", fun asgi_defaults/1},
                 {"asgi: module and callable as binary, atom, string", fun asgi_names/1},
                 {"asgi: bodies of 0 B, 1 KiB and 1 MiB, every byte value", fun asgi_bodies/1},
                 {"asgi: statuses, joined body events, headers in order with duplicates", fun asgi_responses/1},
                 {"asgi: app errors and malformed scopes", fun asgi_errors/1},
                 {"asgi: a response header value with CR/LF is an asgi_protocol error, as in WSGI",
                  fun asgi_bad_header/1},
                 {"asgi: obviously wrong arguments are badarg and nothing is sent", fun asgi_badarg/1},
                 {"asgi: a custom runner", fun asgi_runner/1},
                 {"asgi: build_scope references", fun asgi_build_scope/1},
                 {"asgi: state is a fresh copy per request", fun asgi_state/1},
                 {"asgi: 40 concurrent requests to one path, each sees its own scope", fun asgi_concurrent/1},
                 {"asgi: node from the application env, unknown node", fun asgi_node_option/1},
                 {"asgi: timeout, and no late reply in the mailbox", fun asgi_timeout/1},
                 {"wsgi: every environ key reaches the app as PEP 3333 says", fun wsgi_environ/1},
                 {"wsgi: defaults for a minimal environ", fun wsgi_defaults/1},
                 {"wsgi: wsgi.input readline, and a 1 MiB body", fun wsgi_input/1},
                 {"wsgi: write(), generators, any status line", fun wsgi_responses/1},
                 {"wsgi: app errors and badarg", fun wsgi_errors/1},
                 {"wsgi: a custom runner", fun wsgi_runner/1}
             ])
     end}.

httpd_test_() ->
    {setup,
     fun start_gateway/0,
     fun stop_gateway/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"httpd asgi: GET with query and headers", fun httpd_asgi_get/1},
                 {"httpd asgi: mount points, longest prefix, asgi_path full", fun httpd_asgi_mounts/1},
                 {"httpd asgi: POST bodies up to 1 MiB", fun httpd_asgi_post/1},
                 {"httpd asgi: percent-encoded path and query", fun httpd_asgi_encoded/1},
                 {"httpd asgi: app statuses, 204, HEAD", fun httpd_asgi_statuses/1},
                 {"httpd wsgi: GET environ, HTTP_* headers", fun httpd_wsgi_get/1},
                 {"httpd wsgi: POST, chunked request body, decoded PATH_INFO", fun httpd_wsgi_post/1},
                 {"httpd wsgi: status line and streamed body", fun httpd_wsgi_statuses/1},
                 {"httpd: errors are 500/502/504 with a log line, then it serves on", fun httpd_errors/1},
                 {"httpd: unrouted paths are 404", fun httpd_unrouted/1},
                 {"httpd: the Starlette and Flask examples", fun httpd_examples/1},
                 {"httpd: routes checked at start, or from the application env", fun httpd_config/1},
                 {"httpd: max_client_body_chunk bodies are reassembled", fun httpd_body_chunks/1}
             ])
     end}.

%% --- helpers -------------------------------------------------------------

%% JSON -> term, through Python's json module on the pycnode under test.
json(#{node := N}, Body) ->
    {ok, Term} = pycnode:call(N, json, loads, [Body]),
    Term.

echo(P, Scope) ->
    echo(P, Scope, <<>>).

echo(#{node := N} = P, Scope, Body) ->
    {ok, {Status, Headers, RespBody}} = py_asgi:run(?FIX, echo_asgi, Scope, Body, #{node => N}),
    {Status, Headers, json(P, RespBody)}.

%% The environ pycnode_httpd would make for GET /hello on 127.0.0.1:8080.
environ() ->
    #{<<"REQUEST_METHOD">> => <<"GET">>,
      <<"SCRIPT_NAME">> => <<>>,
      <<"PATH_INFO">> => <<"/hello">>,
      <<"QUERY_STRING">> => <<>>,
      <<"SERVER_NAME">> => <<"127.0.0.1">>,
      <<"SERVER_PORT">> => <<"8080">>,
      <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>,
      <<"wsgi.url_scheme">> => <<"http">>,
      <<"wsgi.input">> => <<>>}.

wsgi_echo(#{node := N} = P, Environ) ->
    {ok, {Status, Headers, Body}} = py_wsgi:run(?FIX, echo_wsgi, Environ, #{node => N}),
    {Status, Headers, json(P, Body)}.

lower_names(Headers) ->
    [{string:lowercase(Name), Value} || {Name, Value} <- Headers].

latin1(Bin) ->
    unicode:characters_to_binary(Bin, latin1).

every_byte(Size) ->
    binary:part(binary:copy(list_to_binary(lists:seq(0, 255)), Size div 256 + 1), 0, Size).

flush() ->
    receive Msg -> [Msg | flush()] after 0 -> [] end.

nobody() ->
    list_to_atom("pyc_nobody_here@" ++ pycnode_harness:host()).

%% --- py_asgi -------------------------------------------------------------

asgi_scope(P) ->
    Scope = #{type => <<"http">>,
              asgi => #{<<"version">> => <<"3.0">>},
              http_version => <<"1.0">>,
              method => <<"post">>,
              scheme => <<"https">>,
              path => <<"/caf%C3%A9/x%2Fy">>,
              query_string => <<"a=1&b=%20&c=caf%C3%A9">>,
              root_path => <<"/mnt">>,
              headers => [{<<"Host">>, <<"example.org">>},
                          [<<"X-Multi">>, <<"1">>],
                          {<<"x-multi">>, <<"2">>},
                          {<<"content-type">>, <<"text/plain">>}],
              server => {<<"example.org">>, 8443},
              client => {<<"10.0.0.1">>, 5555}},
    {Status, Headers, D} = echo(P, Scope, <<"hello">>),
    ?assertEqual(200, Status),
    ?assertEqual([{<<"content-type">>, <<"application/json">>},
                  {<<"x-dup">>, <<"1">>},
                  {<<"x-dup">>, <<"2">>},
                  {<<"x-path">>, <<"/café/x/y"/utf8>>}], Headers),
    ?assertMatch(#{<<"type">> := <<"http">>,
                   <<"http_version">> := <<"1.0">>,
                   <<"method">> := <<"POST">>,
                   <<"scheme">> := <<"https">>,
                   <<"path">> := <<"/café/x/y"/utf8>>,
                   <<"path_type">> := <<"str">>,
                   <<"raw_path">> := <<"/caf%C3%A9/x%2Fy">>,
                   <<"raw_path_type">> := <<"bytes">>,
                   <<"query_string">> := <<"a=1&b=%20&c=caf%C3%A9">>,
                   <<"query_string_type">> := <<"bytes">>,
                   <<"root_path">> := <<"/mnt">>,
                   <<"server">> := [<<"example.org">>, 8443],
                   <<"client">> := [<<"10.0.0.1">>, 5555],
                   <<"body">> := <<"hello">>,
                   <<"body_len">> := 5,
                   <<"receive_events">> := 1,
                   <<"runner">> := undefined}, D),
    ?assertMatch(#{<<"version">> := <<"3.0">>}, maps:get(<<"asgi">>, D)),
    %% Names lower-cased, order and duplicates kept, all bytes.
    ?assertEqual([[<<"host">>, <<"example.org">>],
                  [<<"x-multi">>, <<"1">>],
                  [<<"x-multi">>, <<"2">>],
                  [<<"content-type">>, <<"text/plain">>]], maps:get(<<"headers">>, D)),
    ?assertEqual([<<"bytes">>], maps:get(<<"header_types">>, D)).

asgi_defaults(P) ->
    {200, _, D} = echo(P, #{path => <<"/only">>}),
    ?assertMatch(#{<<"type">> := <<"http">>,
                   <<"http_version">> := <<"1.1">>,
                   <<"method">> := <<"GET">>,
                   <<"scheme">> := <<"http">>,
                   <<"path">> := <<"/only">>,
                   <<"raw_path">> := <<"/only">>,
                   <<"raw_path_type">> := <<"bytes">>,
                   <<"query_string">> := <<>>,
                   <<"query_string_type">> := <<"bytes">>,
                   <<"root_path">> := <<>>,
                   <<"headers">> := [],
                   <<"server">> := undefined,
                   <<"client">> := undefined,
                   <<"state">> := #{},
                   <<"body">> := <<>>,
                   <<"body_len">> := 0}, D),
    ?assertEqual(#{<<"version">> => <<"3.0">>, <<"spec_version">> => <<"2.3">>},
                 maps:get(<<"asgi">>, D)).

asgi_names(#{node := N}) ->
    Scope = #{path => <<"/n">>},
    Opts = #{node => N},
    [?assertMatch({ok, {200, _, _}}, py_asgi:run(M, C, Scope, <<>>, Opts))
     || {M, C} <- [{<<"web_api_fixtures">>, <<"echo_asgi">>},
                   {web_api_fixtures, echo_asgi},
                   {"web_api_fixtures", "echo_asgi"},
                   {<<"web_api_fixtures">>, echo_asgi}]],
    ok.

asgi_bodies(P) ->
    [begin
         Body = every_byte(Size),
         {200, _, D} = echo(P, #{method => <<"POST">>, path => <<"/b">>}, Body),
         ?assertEqual(Size, maps:get(<<"body_len">>, D)),
         ?assertEqual(latin1(Body), maps:get(<<"body">>, D))
     end || Size <- [0, 1, 1023, 1024, 1025, ?MiB]],
    ok.

asgi_responses(#{node := N} = P) ->
    Opts = #{node => N},
    ?assertEqual({ok, {201, [{<<"content-type">>, <<"text/plain">>}], <<"one,two,three">>}},
                 py_asgi:run(?FIX, chunks_asgi, #{path => <<"/">>}, <<>>, Opts)),
    ?assertEqual({ok, {204, [], <<>>}}, py_asgi:run(?FIX, empty_asgi, #{path => <<"/">>}, <<>>, Opts)),
    [?assertMatch({Code, _, _}, echo(P, #{path => <<"/s">>, headers => [{<<"x-status">>, integer_to_binary(Code)}]}))
     || Code <- [201, 302, 404, 418, 500, 503]],
    ok.

asgi_errors(#{node := N}) ->
    Opts = #{node => N},
    Run = fun(C, Scope) -> py_asgi:run(?FIX, C, Scope, <<>>, Opts) end,
    S = #{path => <<"/">>},
    {error, {python, Type, Message, Traceback}} = Run(raising_asgi, S),
    ?assertEqual({<<"ValueError">>, <<"boom from asgi">>}, {Type, Message}),
    ?assertNotEqual(nomatch, binary:match(Traceback, <<"raising_asgi">>)),
    ?assertEqual({error, no_response}, Run(no_response_asgi, S)),
    ?assertMatch({error, {asgi_protocol, Detail}} when is_binary(Detail), Run(body_before_start_asgi, S)),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 py_asgi:run(no_such_module_here, app, S, <<>>, Opts)),
    ?assertMatch({error, {python, <<"AttributeError">>, _, _}}, Run(no_such_app, S)),
    %% Scopes pycnode must refuse.
    [?assertMatch({error, {bad_request, Detail}} when is_binary(Detail), Run(echo_asgi, Bad))
     || Bad <- [#{}, #{path => "/a string"}, #{path => 42},
                #{path => <<"/">>, headers => [{1, 2}]},
                #{path => <<"/">>, headers => not_a_list},
                #{path => <<"/">>, server => {<<"h">>, <<"not a port">>}},
                #{path => <<"/">>, method => 42}]],
    %% And it keeps serving.
    ?assertMatch({ok, {200, _, _}}, Run(echo_asgi, S)).

%% An Erlang HTTP server writes the headers it gets back: a value with CR/LF
%% would split the response (header injection). pycnode refuses it for WSGI
%% (pyrunner.wsgi.check_headers); ASGI must not be the weaker path.
asgi_bad_header(#{node := N}) ->
    ?assertMatch({error, {asgi_protocol, _}},
                 py_asgi:run(?FIX, bad_header_asgi, #{path => <<"/">>}, <<>>, #{node => N})).

asgi_badarg(_P) ->
    %% A node that does not exist: had anything been sent, this would be nodedown.
    Opts = #{node => nobody()},
    S = #{path => <<"/">>},
    ?assertEqual({error, {badarg, body}}, py_asgi:run(?FIX, echo_asgi, S, "a string", Opts)),
    ?assertEqual({error, {badarg, body}}, py_asgi:run(?FIX, echo_asgi, S, undefined, Opts)),
    ?assertEqual({error, {badarg, scope}}, py_asgi:run(?FIX, echo_asgi, [{path, <<"/">>}], <<>>, Opts)),
    ?assertEqual({error, {badarg, module}}, py_asgi:run(42, echo_asgi, S, <<>>, Opts)),
    ?assertEqual({error, {badarg, module}}, py_asgi:run(<<>>, echo_asgi, S, <<>>, Opts)),
    ?assertEqual({error, {badarg, callable}}, py_asgi:run(?FIX, {echo}, S, <<>>, Opts)),
    ?assertEqual({error, {badarg, callable}}, py_asgi:run(?FIX, [1.5], S, <<>>, Opts)),
    ?assertEqual({error, {badarg, opts}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, [{node, nobody()}])),
    ?assertEqual({error, {badarg, runner}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, Opts#{runner => 42})),
    ?assertEqual({error, {badarg, node}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, Opts#{node => "n@h"})),
    ?assertEqual({error, {badarg, timeout}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, Opts#{timeout => -1})),
    ?assertEqual({error, {badarg, name}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, Opts#{name => "pycnode"})),
    ?assertEqual({error, {badarg, scope}}, py_asgi:build_scope([{path, <<"/">>}], Opts)),
    ?assertEqual({error, {badarg, timeout}}, py_asgi:build_scope(S, Opts#{timeout => soon})),
    %% Well-formed: sent, and the node is not there.
    ?assertMatch({error, {nodedown, _}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, Opts)),
    ?assertMatch({error, {nodedown, _}}, py_asgi:build_scope(S, Opts)).

asgi_runner(#{node := N} = P) ->
    S = #{path => <<"/r">>},
    [begin
         {ok, {200, Headers, Body}} = py_asgi:run(?FIX, echo_asgi, S, <<"x">>, #{node => N, runner => R}),
         ?assertEqual({<<"x-runner">>, <<"asgi">>}, lists:last(Headers)),
         ?assertMatch(#{<<"runner">> := <<"web_api_fixtures">>, <<"body">> := <<"x">>}, json(P, Body))
     end || R <- [web_api_fixtures, <<"web_api_fixtures">>, "web_api_fixtures"]],
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 py_asgi:run(?FIX, echo_asgi, S, <<>>, #{node => N, runner => no_such_runner_module})),
    %% Without the runner: no mark.
    ?assertMatch({200, _, #{<<"runner">> := undefined}}, echo(P, S)).

asgi_build_scope(#{node := N} = P) ->
    Opts = #{node => N},
    Scope = #{method => <<"PUT">>, path => <<"/ref/%C3%A9">>, query_string => <<"q=1">>,
              headers => [{<<"x-a">>, <<"1">>}], server => {<<"s">>, 80}, client => {<<"c">>, 1}},
    {ok, Ref} = py_asgi:build_scope(Scope, Opts),
    ?assert(is_reference(Ref)),
    {200, HeadersMap, FromMap} = echo(P, Scope, <<"one">>),
    {ok, {200, HeadersRef1, Body1}} = py_asgi:run(?FIX, echo_asgi, Ref, <<"one">>, Opts),
    {ok, {200, _, Body2}} = py_asgi:run(?FIX, echo_asgi, Ref, <<"two">>, Opts),
    ?assertEqual(HeadersMap, HeadersRef1),
    ?assertEqual(FromMap, json(P, Body1)),
    ?assertEqual(FromMap#{<<"body">> := <<"two">>}, json(P, Body2)),
    %% build_scope/1 uses the default node.
    ok = application:load(pycnode),
    try
        ok = application:set_env(pycnode, node, N),
        {ok, Ref2} = py_asgi:build_scope(Scope),
        ?assertMatch({ok, {200, _, _}}, py_asgi:run(?FIX, echo_asgi, Ref2, <<>>))
    after
        application:unload(pycnode)
    end,
    ?assertEqual({error, unknown_scope}, py_asgi:run(?FIX, echo_asgi, make_ref(), <<>>, Opts)),
    ?assertMatch({error, {bad_request, _}}, py_asgi:build_scope(#{method => <<"GET">>}, Opts)),
    ?assertMatch({error, {bad_request, _}}, py_asgi:build_scope(#{path => 42}, Opts)).

asgi_state(#{node := N} = P) ->
    Scope = #{path => <<"/state">>, state => #{user => <<"bob">>}},
    Expected = #{<<"user">> => <<"b'bob'">>},
    [?assertMatch({200, _, #{<<"state">> := Expected}}, echo(P, Scope)) || _ <- lists:seq(1, 3)],
    {ok, Ref} = py_asgi:build_scope(Scope, #{node => N}),
    [begin
         {ok, {200, _, Body}} = py_asgi:run(?FIX, echo_asgi, Ref, <<>>, #{node => N}),
         ?assertMatch(#{<<"state">> := Expected}, json(P, Body))
     end || _ <- lists:seq(1, 3)],
    ok.

%% The same path with different scheme, HTTP version, server, client and
%% query each time: nothing may leak from one request into another.
asgi_concurrent(#{node := N} = P) ->
    Self = self(),
    Scope = fun(I) ->
                    #{path => <<"/same">>,
                      scheme => lists:nth(I rem 2 + 1, [<<"http">>, <<"https">>]),
                      http_version => lists:nth(I rem 3 + 1, [<<"1.0">>, <<"1.1">>, <<"2">>]),
                      query_string => <<"i=", (integer_to_binary(I))/binary>>,
                      headers => [{<<"x-i">>, integer_to_binary(I)}],
                      server => {<<"server-", (integer_to_binary(I))/binary>>, 1000 + I},
                      client => {<<"10.0.0.", (integer_to_binary(I))/binary>>, 2000 + I}}
            end,
    Pids = [spawn_link(fun() ->
                               R = py_asgi:run(?FIX, echo_asgi, Scope(I), integer_to_binary(I),
                                               #{node => N, timeout => 20000}),
                               Self ! {self(), I, R}
                       end) || I <- lists:seq(1, 40)],
    [receive
         {Pid, I, {ok, {200, _, Body}}} ->
             S = Scope(I),
             IBin = integer_to_binary(I),
             {SHost, SPort} = maps:get(server, S),
             {CHost, CPort} = maps:get(client, S),
             ?assertMatch(#{<<"scheme">> := Scheme, <<"http_version">> := Version,
                            <<"query_string">> := Query, <<"server">> := [SHost, SPort],
                            <<"client">> := [CHost, CPort], <<"body">> := IBin,
                            <<"headers">> := [[<<"x-i">>, IBin]]}
                          when Scheme =:= map_get(scheme, S) andalso Version =:= map_get(http_version, S)
                               andalso Query =:= map_get(query_string, S),
                          json(P, Body));
         {Pid, I, Other} ->
             ?assertEqual({I, ok}, {I, Other})
     after 30000 -> ?assert(false)
     end || {Pid, I} <- lists:zip(Pids, lists:seq(1, 40))],
    ok.

asgi_node_option(#{node := N}) ->
    S = #{path => <<"/">>},
    ok = application:load(pycnode),
    try
        ok = application:set_env(pycnode, node, N),
        ?assertMatch({ok, {200, _, _}}, py_asgi:run(?FIX, echo_asgi, S, <<>>)),
        ?assertMatch({ok, {<<"200 OK">>, _, _}}, py_wsgi:run(?FIX, echo_wsgi, environ())),
        %% The option wins over the env.
        ?assertMatch({error, {nodedown, _}}, py_asgi:run(?FIX, echo_asgi, S, <<>>, #{node => nobody()})),
        ?assertMatch({error, {nodedown, _}}, py_wsgi:run(?FIX, echo_wsgi, environ(), #{node => nobody()}))
    after
        application:unload(pycnode)
    end.

asgi_timeout(#{node := N}) ->
    [] = flush(),
    S = #{path => <<"/slow">>, query_string => <<"0.5">>},
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({error, timeout}, py_asgi:run(?FIX, slow_asgi, S, <<>>, #{node => N, timeout => 100})),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 450),
    %% A registered name pycnode does not have: noproc, as from an Erlang node.
    ?assertEqual({error, {exit, noproc}},
                 py_asgi:run(?FIX, echo_asgi, S, <<>>, #{node => N, name => nobody_here, timeout => 200})),
    timer:sleep(800),
    ?assertEqual([], flush()),
    ?assertEqual({ok, {200, [], <<"slept">>}},
                 py_asgi:run(?FIX, slow_asgi, S#{query_string => <<"0.1">>}, <<>>,
                             #{node => N, timeout => infinity})).

%% --- py_wsgi -------------------------------------------------------------

wsgi_environ(P) ->
    Env = (environ())#{<<"REQUEST_METHOD">> => <<"POST">>,
                       <<"SCRIPT_NAME">> => <<"/mnt">>,
                       %% PATH_INFO is decoded bytes: UTF-8 of "/café" arrives as latin-1.
                       <<"PATH_INFO">> => <<"/caf", 16#C3, 16#A9>>,
                       <<"QUERY_STRING">> => <<"a=1&b=%20">>,
                       <<"CONTENT_TYPE">> => <<"application/x-www-form-urlencoded">>,
                       <<"CONTENT_LENGTH">> => <<"7">>,
                       <<"SERVER_PROTOCOL">> => <<"HTTP/1.0">>,
                       <<"HTTP_HOST">> => <<"example.org">>,
                       <<"HTTP_X_CUSTOM">> => <<"yes, ", 16#E9>>,
                       <<"REMOTE_ADDR">> => <<"10.0.0.1">>,
                       <<"wsgi.url_scheme">> => <<"https">>,
                       <<"wsgi.input">> => <<"a=1&b=2">>},
    {Status, Headers, D} = wsgi_echo(P, Env),
    ?assertEqual(<<"200 OK">>, Status),
    ?assertEqual([{<<"content-type">>, <<"application/json">>},
                  {<<"x-dup">>, <<"1">>},
                  {<<"x-dup">>, <<"2">>}], lower_names(Headers)),
    Cgi = maps:get(<<"cgi">>, D),
    [?assertEqual({K, latin1(V)}, {K, maps:get(K, Cgi, missing)})
     || {K, V} <- maps:to_list(Env), binary:match(K, <<".">>) =:= nomatch],
    %% Every CGI value a native str, REMOTE_ADDR included.
    ?assertEqual([<<"str">>], lists:usort(maps:values(maps:get(<<"cgi_types">>, D)))),
    ?assertMatch(#{<<"wsgi.version">> := [1, 0],
                   <<"wsgi.url_scheme">> := <<"https">>,
                   <<"body">> := <<"a=1&b=2">>,
                   <<"body_len">> := 7,
                   <<"has_errors">> := true,
                   <<"runner">> := undefined}, D).

wsgi_defaults(P) ->
    Env = maps:remove(<<"wsgi.url_scheme">>, maps:remove(<<"QUERY_STRING">>, environ())),
    {<<"200 OK">>, _, D} = wsgi_echo(P, Env),
    ?assertMatch(#{<<"wsgi.version">> := [1, 0],
                   <<"wsgi.url_scheme">> := <<"http">>,
                   <<"wsgi.multithread">> := true,
                   <<"wsgi.multiprocess">> := true,
                   <<"wsgi.run_once">> := false,
                   <<"has_errors">> := true,
                   <<"body">> := <<>>}, D).

wsgi_input(#{node := N} = P) ->
    Env = (environ())#{<<"REQUEST_METHOD">> => <<"POST">>, <<"wsgi.input">> => <<"a\nbb\n\nccc">>,
                       <<"CONTENT_LENGTH">> => <<"9">>},
    {ok, {<<"200 OK">>, _, Body}} = py_wsgi:run(?FIX, readline_wsgi, Env, #{node => N}),
    ?assertEqual([<<"a\n">>, <<"bb\n">>, <<"\n">>, <<"ccc">>], json(P, Body)),
    Big = every_byte(?MiB),
    {_, _, D} = wsgi_echo(P, (environ())#{<<"REQUEST_METHOD">> => <<"POST">>, <<"wsgi.input">> => Big,
                                          <<"CONTENT_LENGTH">> => integer_to_binary(?MiB)}),
    ?assertEqual(?MiB, maps:get(<<"body_len">>, D)),
    ?assertEqual(latin1(Big), maps:get(<<"body">>, D)).

wsgi_responses(#{node := N} = P) ->
    ?assertMatch({ok, {<<"299 Fine Thanks">>, [{_, <<"text/plain">>}], <<"first,second,third">>}},
                 py_wsgi:run(?FIX, generator_wsgi, environ(), #{node => N})),
    [?assertMatch({Line, _, _}, wsgi_echo(P, (environ())#{<<"HTTP_X_STATUS">> => Line}))
     || Line <- [<<"201 Created">>, <<"404 Not Found">>, <<"500 Internal Server Error">>, <<"302 Found">>]],
    ok.

wsgi_errors(#{node := N}) ->
    Opts = #{node => N},
    ?assertMatch({error, {python, <<"KeyError">>, _, _}}, py_wsgi:run(?FIX, raising_wsgi, environ(), Opts)),
    ?assertMatch({error, {wsgi_protocol, Detail}} when is_binary(Detail),
                 py_wsgi:run(?FIX, no_start_wsgi, environ(), Opts)),
    ?assertMatch({error, {wsgi_protocol, _}}, py_wsgi:run(?FIX, bad_header_wsgi, environ(), Opts)),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 py_wsgi:run(no_such_module_here, app, environ(), Opts)),
    ?assertMatch({error, {bad_request, _}}, py_wsgi:run(?FIX, echo_wsgi, #{<<"PATH_INFO">> => 42}, Opts)),
    ?assertMatch({ok, {<<"200 OK">>, _, _}}, py_wsgi:run(?FIX, echo_wsgi, environ(), Opts)),
    Nobody = #{node => nobody()},
    ?assertEqual({error, {badarg, environ}}, py_wsgi:run(?FIX, echo_wsgi, [], Nobody)),
    ?assertEqual({error, {badarg, body}},
                 py_wsgi:run(?FIX, echo_wsgi, (environ())#{<<"wsgi.input">> => "text"}, Nobody)),
    ?assertEqual({error, {badarg, module}}, py_wsgi:run(1, echo_wsgi, environ(), Nobody)),
    ?assertEqual({error, {badarg, callable}}, py_wsgi:run(?FIX, 1.0, environ(), Nobody)),
    ?assertEqual({error, {badarg, opts}}, py_wsgi:run(?FIX, echo_wsgi, environ(), nobody)),
    ?assertEqual({error, {badarg, runner}}, py_wsgi:run(?FIX, echo_wsgi, environ(), Nobody#{runner => {}})),
    ?assertMatch({error, {nodedown, _}}, py_wsgi:run(?FIX, echo_wsgi, environ(), Nobody)).

wsgi_runner(#{node := N} = P) ->
    {ok, {<<"200 OK">>, Headers, Body}} =
        py_wsgi:run(?FIX, echo_wsgi, environ(), #{node => N, runner => web_api_fixtures}),
    ?assertEqual({<<"x-runner">>, <<"wsgi">>}, lists:last(lower_names(Headers))),
    ?assertMatch(#{<<"runner">> := <<"web_api_fixtures">>}, json(P, Body)).

%% --- pycnode_httpd ---------------------------------------------------------

examples_dir() ->
    filename:join(filename:dirname(filename:dirname(os:getenv("PYCNODE_FIXTURES"))), "examples").

routes(N) ->
    O = #{node => N},
    [{"/asgi", asgi, ?FIX, echo_asgi, O},
     {"/asgi/full/", asgi, ?FIX, echo_asgi, O#{asgi_path => full}},
     {"/wsgi", wsgi, ?FIX, echo_wsgi, O},
     {"/chunks", asgi, ?FIX, chunks_asgi, O},
     {"/empty", asgi, ?FIX, empty_asgi, O},
     {"/gen", wsgi, ?FIX, generator_wsgi, O},
     {"/boom", asgi, ?FIX, raising_asgi, O},
     {"/wboom", wsgi, ?FIX, raising_wsgi, O},
     {"/evil", asgi, ?FIX, bad_header_asgi, O},
     {"/slow", asgi, ?FIX, slow_asgi, O#{timeout => 300}},
     {"/down", asgi, ?FIX, echo_asgi, #{node => nobody()}},
     {"/starlette", asgi, asgi_app, app, O},
     {"/flask", wsgi, wsgi_app, app, O}].

start_gateway() ->
    P = pycnode_harness:start_pycnode("web_httpd", #{workers => 4, args => ["--pythonpath", examples_dir()]}),
    %% For the examples on the free-threaded build (a no-op on Debian's 3.11).
    {ok, true} = pycnode:call(maps:get(node, P), ?FIX, ensure_on_path, [<<"/usr/lib/python3/dist-packages">>]),
    {ok, Pid} = pycnode_httpd:start(0, routes(maps:get(node, P))),
    P#{httpd => Pid, port => pycnode_httpd:port(Pid)}.

stop_gateway(#{httpd := Pid} = P) ->
    ok = pycnode_httpd:stop(Pid),
    pycnode_harness:stop_pycnode(P).

url(#{port := Port}, Path) ->
    "http://localhost:" ++ integer_to_list(Port) ++ Path.

http_get(P, Path) ->
    http_get(P, Path, []).

http_get(P, Path, Headers) ->
    http(P, get, {url(P, Path), Headers}).

post(P, Path, Headers, Type, Body) ->
    http(P, post, {url(P, Path), Headers, Type, Body}).

http(_P, Method, Request) ->
    {ok, {{_, Status, _}, Headers, Body}} =
        httpc:request(Method, Request, [{timeout, 20000}], [{body_format, binary}]),
    {Status, Headers, Body}.

%% A GET of exactly Target, over a plain socket: {Status, WholeResponse}.
raw_get(#{port := Port}, Target) ->
    {ok, S} = gen_tcp:connect("localhost", Port, [binary, {active, false}]),
    ok = gen_tcp:send(S, ["GET ", Target, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"]),
    Response = recv_all(S, <<>>),
    ok = gen_tcp:close(S),
    <<"HTTP/1.1 ", Code:3/binary, _/binary>> = Response,
    {binary_to_integer(Code), Response}.

recv_all(S, Acc) ->
    case gen_tcp:recv(S, 0, 10000) of
        {ok, Data} -> recv_all(S, <<Acc/binary, Data/binary>>);
        {error, closed} -> Acc
    end.

httpd_asgi_get(#{port := Port} = P) ->
    {200, H, Body} = http_get(P, "/asgi/items/42?q=x&r=%2F", [{"X-Custom", "Yes"}, {"X-Multi", "a"}, {"X-Multi", "b"}]),
    ?assertEqual("application/json", proplists:get_value("content-type", H)),
    ?assertEqual(["1", "2"], proplists:get_all_values("x-dup", H)),
    ?assertEqual(integer_to_list(byte_size(Body)), proplists:get_value("content-length", H)),
    D = json(P, Body),
    ?assertMatch(#{<<"method">> := <<"GET">>,
                   <<"http_version">> := <<"1.1">>,
                   <<"scheme">> := <<"http">>,
                   <<"path">> := <<"/items/42">>,
                   <<"root_path">> := <<"/asgi">>,
                   <<"raw_path">> := <<"/asgi/items/42">>,
                   <<"query_string">> := <<"q=x&r=%2F">>,
                   <<"server">> := [<<"127.0.0.1">>, Port],
                   <<"client">> := [<<"127.0.0.1">>, ClientPort],
                   <<"body_len">> := 0} when is_integer(ClientPort), D),
    Headers = maps:get(<<"headers">>, D),
    ?assert(lists:member([<<"x-custom">>, <<"Yes">>], Headers)),
    ?assert(lists:member([<<"host">>, iolist_to_binary(["localhost:", integer_to_list(Port)])], Headers)),
    ?assertEqual([[<<"x-multi">>, <<"a">>], [<<"x-multi">>, <<"b">>]],
                 [Hd || [<<"x-multi">>, _] = Hd <- Headers]),
    ?assertEqual([N || [N, _] <- Headers], [string:lowercase(N) || [N, _] <- Headers]).

httpd_asgi_mounts(P) ->
    [?assertMatch({200, _, _}, http_get(P, Path)) || Path <- ["/asgi", "/asgi/", "/asgi/full", "/asgi/full/x"]],
    Seen = fun(Path) -> {200, _, Body} = http_get(P, Path), maps:with([<<"path">>, <<"root_path">>, <<"raw_path">>], json(P, Body)) end,
    ?assertEqual(#{<<"path">> => <<"/">>, <<"root_path">> => <<"/asgi">>, <<"raw_path">> => <<"/asgi">>}, Seen("/asgi")),
    ?assertEqual(#{<<"path">> => <<"/">>, <<"root_path">> => <<"/asgi">>, <<"raw_path">> => <<"/asgi/">>}, Seen("/asgi/")),
    ?assertEqual(#{<<"path">> => <<"/fully">>, <<"root_path">> => <<"/asgi">>, <<"raw_path">> => <<"/asgi/fully">>},
                 Seen("/asgi/fully")),
    %% The longest prefix wins; asgi_path full keeps the whole path.
    ?assertEqual(#{<<"path">> => <<"/asgi/full/x">>, <<"root_path">> => <<"/asgi/full">>,
                   <<"raw_path">> => <<"/asgi/full/x">>}, Seen("/asgi/full/x")),
    ?assertEqual(#{<<"path">> => <<"/asgi/full">>, <<"root_path">> => <<"/asgi/full">>,
                   <<"raw_path">> => <<"/asgi/full">>}, Seen("/asgi/full")).

httpd_asgi_post(P) ->
    [begin
         Body = every_byte(Size),
         {200, _, Resp} = post(P, "/asgi/upload", [{"X-Size", integer_to_list(Size)}], "application/octet-stream", Body),
         D = json(P, Resp),
         ?assertEqual(Size, maps:get(<<"body_len">>, D)),
         ?assertEqual(latin1(Body), maps:get(<<"body">>, D)),
         ?assertMatch(#{<<"method">> := <<"POST">>, <<"path">> := <<"/upload">>}, D),
         Headers = maps:get(<<"headers">>, D),
         ?assert(lists:member([<<"content-type">>, <<"application/octet-stream">>], Headers)),
         ?assert(lists:member([<<"content-length">>, integer_to_binary(Size)], Headers))
     end || Size <- [1, 1024, 100000, ?MiB]],
    ok.

httpd_asgi_encoded(P) ->
    {200, H, Body} = http_get(P, "/asgi/caf%C3%A9/a%20b?x=%20&y=caf%C3%A9"),
    ?assertEqual("/café/a b", unicode:characters_to_list(list_to_binary(proplists:get_value("x-path", H)))),
    ?assertMatch(#{<<"path">> := <<"/café/a b"/utf8>>,
                   <<"raw_path">> := <<"/asgi/caf%C3%A9/a%20b">>,
                   <<"query_string">> := <<"x=%20&y=caf%C3%A9">>}, json(P, Body)),
    %% Not valid percent-encoding (httpc refuses to send it): refused before Python.
    ?assertMatch({400, _}, raw_get(P, "/asgi/bad%zzescape")),
    ?assertMatch({400, _}, raw_get(P, "/wsgi/bad%zzescape")).

httpd_asgi_statuses(P) ->
    [?assertMatch({Code, _, _}, http_get(P, "/asgi/s", [{"x-status", integer_to_list(Code)}]))
     || Code <- [201, 202, 400, 404, 409, 418, 500, 503]],
    ?assertMatch({201, _, <<"one,two,three">>}, http_get(P, "/chunks")),
    {204, H204, <<>>} = http_get(P, "/empty"),
    ?assertEqual(undefined, proplists:get_value("content-length", H204)),
    %% HEAD: the length a GET would get, no body.
    {200, HGet, BodyGet} = http_get(P, "/asgi/head"),
    {200, HHead, BodyHead} = http(P, head, {url(P, "/asgi/head"), []}),
    ?assertEqual(<<>>, BodyHead),
    ?assertEqual("application/json", proplists:get_value("content-type", HHead)),
    ?assertEqual(integer_to_list(byte_size(BodyGet)), proplists:get_value("content-length", HGet)),
    %% The connection is still usable after a HEAD.
    ?assertMatch({200, _, _}, http_get(P, "/asgi/after-head")).

httpd_wsgi_get(#{port := Port} = P) ->
    {200, H, Body} = http_get(P, "/wsgi/hello/there?name=x&y=%2F",
                         [{"X-Custom", "Yes"}, {"X-Multi", "a"}, {"X-Multi", "b"}, {"X_Under", "dropped"},
                          {"Cookie", "a=1"}]),
    ?assertEqual("application/json", proplists:get_value("content-type", H)),
    ?assertEqual(["1", "2"], proplists:get_all_values("x-dup", H)),
    D = json(P, Body),
    Cgi = maps:get(<<"cgi">>, D),
    PortBin = integer_to_binary(Port),
    ?assertMatch(#{<<"REQUEST_METHOD">> := <<"GET">>,
                   <<"SCRIPT_NAME">> := <<"/wsgi">>,
                   <<"PATH_INFO">> := <<"/hello/there">>,
                   <<"QUERY_STRING">> := <<"name=x&y=%2F">>,
                   <<"SERVER_NAME">> := <<"127.0.0.1">>,
                   <<"SERVER_PORT">> := PortBin,
                   <<"SERVER_PROTOCOL">> := <<"HTTP/1.1">>,
                   <<"REMOTE_ADDR">> := <<"127.0.0.1">>,
                   <<"HTTP_X_CUSTOM">> := <<"Yes">>,
                   <<"HTTP_X_MULTI">> := <<"a, b">>,
                   <<"HTTP_COOKIE">> := <<"a=1">>}, Cgi),
    ?assertEqual(<<"localhost:", PortBin/binary>>, maps:get(<<"HTTP_HOST">>, Cgi)),
    ?assertNot(maps:is_key(<<"HTTP_X_UNDER">>, Cgi)),
    ?assertNot(maps:is_key(<<"CONTENT_TYPE">>, Cgi)),
    %% httpc sends content-length: 0 with a GET; absent would be right too.
    ?assertEqual(<<"0">>, maps:get(<<"CONTENT_LENGTH">>, Cgi, <<"0">>)),
    ?assertEqual([<<"str">>], lists:usort(maps:values(maps:get(<<"cgi_types">>, D)))),
    ?assertMatch(#{<<"wsgi.url_scheme">> := <<"http">>, <<"body_len">> := 0}, D),
    %% The mount point itself: PATH_INFO empty.
    {200, _, Root} = http_get(P, "/wsgi"),
    ?assertMatch(#{<<"SCRIPT_NAME">> := <<"/wsgi">>, <<"PATH_INFO">> := <<>>}, maps:get(<<"cgi">>, json(P, Root))).

httpd_wsgi_post(P) ->
    {200, _, Body} = post(P, "/wsgi/caf%C3%A9", [], "application/json", <<"{\"a\": 1}">>),
    D = json(P, Body),
    Cgi = maps:get(<<"cgi">>, D),
    ?assertMatch(#{<<"REQUEST_METHOD">> := <<"POST">>,
                   <<"CONTENT_TYPE">> := <<"application/json">>,
                   <<"CONTENT_LENGTH">> := <<"8">>}, Cgi),
    %% Decoded, as latin-1 (PEP 3333).
    ?assertEqual(latin1(<<"/café"/utf8>>), maps:get(<<"PATH_INFO">>, Cgi)),
    ?assertNot(maps:is_key(<<"HTTP_CONTENT_TYPE">>, Cgi)),
    ?assertNot(maps:is_key(<<"HTTP_CONTENT_LENGTH">>, Cgi)),
    ?assertEqual(<<"{\"a\": 1}">>, maps:get(<<"body">>, D)),
    %% A chunked request body: whole, with its length, no transfer-encoding.
    Parts = [<<"part one;">>, <<"part two;">>, binary:copy(<<"x">>, 70000)],
    Chunkify = fun([]) -> eof; ([Part | Rest]) -> {ok, Part, Rest} end,
    {200, _, ChunkedBody} = post(P, "/wsgi/chunked", [], "text/plain", {chunkify, Chunkify, Parts}),
    DC = json(P, ChunkedBody),
    Whole = iolist_to_binary(Parts),
    ?assertEqual(Whole, maps:get(<<"body">>, DC)),
    CgiC = maps:get(<<"cgi">>, DC),
    ?assertEqual(integer_to_binary(byte_size(Whole)), maps:get(<<"CONTENT_LENGTH">>, CgiC)),
    ?assertNot(maps:is_key(<<"HTTP_TRANSFER_ENCODING">>, CgiC)).

httpd_wsgi_statuses(P) ->
    [?assertMatch({Code, _, _}, http_get(P, "/wsgi/s", [{"x-status", integer_to_list(Code) ++ " Whatever"}]))
     || Code <- [201, 202, 400, 404, 500]],
    {299, H, Body} = http_get(P, "/gen"),
    ?assertEqual(<<"first,second,third">>, Body),
    ?assertEqual("text/plain", proplists:get_value("content-type", H)),
    ?assertEqual("18", proplists:get_value("content-length", H)).

httpd_errors(P) ->
    ok = logger:add_handler(pycnode_web_api_tests, ?MODULE, #{config => #{pid => self()}, level => error}),
    %% The errors below are expected: keep them off the console.
    {ok, #{level := Level}} = logger:get_handler_config(default),
    ok = logger:update_handler_config(default, level, none),
    try
        {500, H, Body} = http_get(P, "/boom"),
        ?assertEqual(<<"Internal Server Error\n">>, Body),
        ?assertMatch("text/plain" ++ _, proplists:get_value("content-type", H)),
        Log = receive {logged, Text} -> Text after 5000 -> none end,
        [?assertNotEqual(nomatch, string:find(Log, Part)) || Part <- ["/boom", "500", "ValueError", "boom from asgi"]],
        ?assertMatch({500, _, <<"Internal Server Error\n">>}, http_get(P, "/wboom")),
        ?assertMatch({504, _, <<"Gateway Timeout\n">>}, http_get(P, "/slow?2")),
        ?assertMatch({502, _, <<"Bad Gateway\n">>}, http_get(P, "/down")),
        %% A header value with CRLF: refused, not sent.
        {500, HEvil, _} = http_get(P, "/evil"),
        ?assertEqual(undefined, proplists:get_value("set-cookie", HEvil)),
        ?assertEqual(undefined, proplists:get_value("x-evil", HEvil)),
        ?assertMatch({200, _, _}, http_get(P, "/asgi/still-serving"))
    after
        logger:update_handler_config(default, level, Level),
        logger:remove_handler(pycnode_web_api_tests)
    end.

httpd_unrouted(P) ->
    [?assertMatch({404, _, <<"Not Found\n">>}, http_get(P, Path)) || Path <- ["/", "/nothing", "/asgix", "/wsgiy/z"]],
    ok.

httpd_examples(#{port := Port} = P) ->
    Base = "http://localhost:" ++ integer_to_list(Port),
    {200, _, Home} = http_get(P, "/starlette/"),
    ?assertNotEqual(nomatch, string:find(Home, Base ++ "/starlette/")),
    {200, _, Item} = http_get(P, "/starlette/items/42?q=x"),
    ?assertMatch(#{<<"item_id">> := 42, <<"q">> := <<"x">>}, json(P, Item)),
    ?assertMatch({404, _, _}, http_get(P, "/starlette/items/999")),
    {201, H, Created} = post(P, "/starlette/items", [], "application/json", <<"{\"name\": \"w\", \"price\": 9.5}">>),
    #{<<"item_id">> := Id} = json(P, Created),
    ?assertEqual(Base ++ "/starlette/items/" ++ integer_to_list(Id), proplists:get_value("location", H)),
    {200, _, Hello} = http_get(P, "/flask/hello/erlang?lang=fr"),
    ?assertEqual(#{<<"greeting">> => <<"Bonjour, erlang!">>, <<"lang">> => <<"fr">>,
                   <<"url">> => list_to_binary(Base ++ "/flask/hello/erlang")}, json(P, Hello)),
    {200, _, Sum} = post(P, "/flask/sum", [], "application/json", <<"{\"numbers\": [1, 2, 3.5]}">>),
    ?assertEqual(#{<<"count">> => 3, <<"sum">> => 6.5}, json(P, Sum)),
    {200, _, Req} = http_get(P, "/flask/request?a=1"),
    ?assertMatch(#{<<"script_root">> := <<"/flask">>, <<"path">> := <<"/request">>,
                   <<"remote_addr">> := <<"127.0.0.1">>}, json(P, Req)).

httpd_config(#{node := N} = P) ->
    %% Checked when the server starts.
    [?assertMatch({error, _}, pycnode_httpd:start(0, Bad))
     || Bad <- [not_a_list, [{"/x", cgi, m, f}], [{"no-slash", asgi, m, f}], [{"/x", asgi, 42, f}],
                [{"/x", asgi, m, f, #{timeout => soon}}], [{"/x", asgi, m, f, #{asgi_path => half}}]]],
    ?assertMatch({error, _}, pycnode_httpd:start(0, [], [{pycnode_unrouted, maybe}])),
    %% What httpd calls for each property.
    ?assertMatch({error, {pycnode_routes, {bad_route, {"/x", cgi, m, f}}}},
                 pycnode_httpd:store({pycnode_routes, [{"/x", cgi, m, f}]}, [])),
    ?assertMatch({ok, {pycnode_routes, [#{prefix := <<"/a/b">>}, #{prefix := <<"/a">>}, #{prefix := <<>>}]}},
                 pycnode_httpd:store({pycnode_routes, [{"/", asgi, m, f}, {"/a/", wsgi, m, f},
                                                        {<<"/a/b">>, asgi, m, f, #{asgi_path => full}}]}, [])),
    ?assertError(function_clause, pycnode_httpd:store({port, 80}, [])),
    %% With plain inets:start and the routes in the application env.
    Dir = filename:dirname(code:which(pycnode_httpd)),
    ok = application:load(pycnode),
    ok = application:set_env(pycnode, httpd_routes, [{"/env", asgi, ?FIX, echo_asgi, #{node => N}}]),
    {ok, Pid} = inets:start(httpd, [{port, 0}, {server_name, "t"}, {server_root, Dir}, {document_root, Dir},
                                    {bind_address, {127, 0, 0, 1}}, {modules, [pycnode_httpd]}]),
    try
        P2 = P#{port => pycnode_httpd:port(Pid)},
        {200, _, Body} = http_get(P2, "/env/x"),
        ?assertMatch(#{<<"root_path">> := <<"/env">>, <<"path">> := <<"/x">>}, json(P, Body)),
        %% Unrouted, and no module after it: inets' own answer (not 200).
        {Status, _, _} = http_get(P2, "/elsewhere"),
        ?assertNotEqual(200, Status)
    after
        inets:stop(httpd, Pid),
        application:unload(pycnode)
    end.

httpd_body_chunks(#{node := N} = P) ->
    {ok, Pid} = pycnode_httpd:start(0, [{"/", asgi, ?FIX, echo_asgi, #{node => N}}],
                                    [{max_client_body_chunk, 1000}]),
    try
        P2 = P#{port => pycnode_httpd:port(Pid)},
        [begin
             Body = every_byte(Size),
             {200, _, Resp} = post(P2, "/up", [], "application/octet-stream", Body),
             D = json(P, Resp),
             ?assertMatch(#{<<"path">> := <<"/up">>, <<"root_path">> := <<>>}, D),
             ?assertEqual(Size, maps:get(<<"body_len">>, D)),
             ?assertEqual(latin1(Body), maps:get(<<"body">>, D))
         end || Size <- [10, 999, 1000, 1001, 25000]],
        ?assertMatch({200, _, _}, http_get(P2, "/"))
    after
        pycnode_httpd:stop(Pid)
    end.

%% --- logger handler ----------------------------------------------------------

%% @private Forwards the formatted text of each event to the test process.
log(#{msg := Msg}, #{config := #{pid := Pid}}) ->
    Text = case Msg of
               {string, S} -> unicode:characters_to_list(S);
               {report, R} -> io_lib:format("~p", [R]);
               {Format, Args} -> lists:flatten(io_lib:format(Format, Args))
           end,
    Pid ! {logged, lists:flatten(Text)},
    ok.
