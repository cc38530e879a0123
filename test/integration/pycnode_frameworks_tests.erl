%% Real Python web frameworks through pycnode's `{asgi, ...}' and `{wsgi, ...}'
%% requests, each response compared with what the framework's own test
%% tooling gives for the same request (test/apps/reference.py: httpx's
%% ASGITransport for ASGI, werkzeug.test for WSGI), run on the same pycnode
%% through a generic `{call, <<"reference">>, ...}'.
%%
%% The apps are test/apps/*_app.py (Flask, Django WSGI+ASGI, Starlette,
%% FastAPI, Falcon WSGI+ASGI, Bottle, Quart), all serving the same routes;
%% pycnode runs with `--pythonpath test/apps'. Which of them import on the
%% interpreter under test is asked at start (reference:frameworks/0); on the
%% free-threaded 3.13 build, FastAPI, Falcon, Bottle and Django (whose
%% django.http imports the removed `cgi' module) do not, and each is listed as
%% a "not applicable" test with the import error as its title. On a GIL build
%% (Debian's 3.11) a framework that does not import fails the run.
%%
%% Both sides must describe the same request. The fixed parts are the same
%% here and in reference.py: scheme http, HTTP/1.1, server testserver:8080,
%% client 127.0.0.1:54321, empty root_path/SCRIPT_NAME; the request headers
%% are given in full (host, and content-type/content-length with a body) so
%% that httpx adds none of its own. The "scope"/"environ" groups check it:
%% a probe app that describes its scope/environ (types included) answers
%% identically through pycnode and through the reference, for every request.
%%
%% What is compared: the status (code or line), the headers (order and
%% duplicates kept; WSGI names case-insensitively), and the body as the app
%% sent it (for HEAD too: the reference reports the app's own body events,
%% not httpx's client view that drops it). Normalised on both sides: only the
%% value of a Date header (wall clock), if an app sends one. Each case also
%% asserts concrete expected values (the JSON echo equals what was sent, the
%% 256 byte values come back unchanged, the 10 MiB sizes and digests, the 100
%% headers...) on both replies, so that a fault common to pycnode and the
%% reference does not pass unnoticed.
-module(pycnode_frameworks_tests).

-include_lib("eunit/include/eunit.hrl").

-define(TIMEOUT, 120000).
-define(MIB10, (10 * 1024 * 1024)).
-define(DIST_PACKAGES, <<"/usr/lib/python3/dist-packages">>).
-define(HOST, {<<"host">>, <<"testserver:8080">>}).

frameworks_test_() ->
    {setup, fun setup/0, fun cleanup/1, fun instantiate/1}.

setup() ->
    Apps = filename:join(filename:dirname(os:getenv("PYCNODE_FIXTURES")), "apps"),
    P = pycnode_harness:start_pycnode("frameworks", #{workers => 4, args => ["--pythonpath", Apps]}),
    N = maps:get(node, P),
    %% The free-threaded build sees Debian's packages only when
    %% dist-packages is on sys.path, after its standard library
    %% (--pythonpath prepends): appended here, before anything imports.
    %% Debian's python3.11 has it already (a no-op there).
    {ok, _} = call_ref(N, <<"ensure_on_path">>, [?DIST_PACKAGES]),
    {ok, Interp} = call_ref(N, <<"interpreter">>, []),
    {ok, Frameworks} = call_ref(N, <<"frameworks">>, []),
    {ok, #{free_threaded := FreeThreaded}} = gen_server:call({pycnode, N}, stats, ?TIMEOUT),
    io:format(user, "~nframeworks on ~s:~n", [Interp]),
    [io:format(user, "  ~-10s ~s~n", [Name, case Ok of true -> <<"yes">>; false -> [<<"does not import: ">>, Why] end])
     || {Name, _, _, Ok, Why} <- Frameworks],
    P#{interpreter => Interp, frameworks => Frameworks, free_threaded => FreeThreaded}.

cleanup(P) ->
    pycnode_harness:stop_pycnode(P).

instantiate(#{interpreter := Interp, frameworks := Frameworks, free_threaded := FreeThreaded} = P) ->
    Parity = [{lists:flatten(io_lib:format("~s parity: ~s", [Kind, title(C)])), probe_fun(Kind, Callable, C)}
              || C <- cases(),
                 {Kind, Callable} <- [{scope, <<"scope_probe">>}, {environ, <<"environ_probe">>},
                                      {environ, <<"validated_environ_probe">>}]]
        ++ [{"scope parity: headers as [Name, Value] lists", fun scope_list_headers/1},
            {"scope: same path, other scheme/version/server/client, no reuse", fun scope_not_reused/1},
            {"environ: same path, other scheme/port/protocol, no reuse", fun environ_not_reused/1},
            {"scope: a build_scope reference gives the map's scope", fun scope_ref/1}],
    PerApp = lists:append(
               [app_tests(Name, Module, Entries, Ok, Why, {Interp, FreeThreaded})
                || {Name, Module, Entries, Ok, Why} <- Frameworks]),
    pycnode_harness:tests(P, Parity ++ PerApp, 180).

%% On Debian's 3.11 every framework must import (scripts/install-deps.sh
%% installs them all): one that does not is a failure, not a gap.
app_tests(Name, _Module, _Entries, false, Why, {Interp, true}) ->
    [{lists:flatten(io_lib:format("~s: not applicable on ~s (~s)", [Name, Interp, Why])), fun(_) -> ok end}];
app_tests(Name, _Module, _Entries, false, Why, {Interp, false}) ->
    [{lists:flatten(io_lib:format("~s: does not import on ~s", [Name, Interp])),
      fun(_) -> erlang:error({framework_does_not_import, Name, Why}) end}];
app_tests(Name, Module, Entries, true, _Why, _Interp) ->
    [{lists:flatten(io_lib:format("~s ~s ~s: ~s", [Name, Iface, Callable, title(C)])),
      fun(P) -> compare_case(P, binary_to_atom(Iface), Module, Callable, C) end}
     || [Iface, Callable] <- Entries, C <- cases()]
        ++ [{lists:flatten(io_lib:format("~s ~s ~s: 32 concurrent requests", [Name, Iface, Callable])),
             fun(P) -> concurrent(P, binary_to_atom(Iface), Module, Callable) end}
            || [Iface, Callable] <- Entries].

%% --- the request matrix ------------------------------------------------------

%% #{name, method, path (percent-encoded, as on the wire), query, headers,
%%   body, check}: check(Interface, Status, Headers, Body, Node) asserts the
%% concrete values every framework must give.
cases() ->
    Json = <<"{\"name\": \"caf\\u00e9 \\u2615\", \"raw\": \"", "ünïcode ☕"/utf8,
             "\", \"n\": 42, \"list\": [1, 2.5, null, true, false], \"nested\": {\"k\": [\"v\"]}}">>,
    Form = <<"name=caf%C3%A9+au+lait&tags=a&tags=b&sym=%26%3D">>,
    AllBytes = list_to_binary(lists:seq(0, 255)),
    Big = upload_body(),
    Mib10 = integer_to_binary(?MIB10),
    [#{name => "GET /items/42", path => <<"/items/42">>,
       check => fun(_, S, _, B, N) -> ok_json(S, B, N, #{<<"item_id">> => <<"42">>}) end},
     #{name => "GET /items/caf%C3%A9 (percent-encoded UTF-8)", path => <<"/items/caf%C3%A9">>,
       check => fun(_, S, _, B, N) -> ok_json(S, B, N, #{<<"item_id">> => <<"café"/utf8>>}) end},
     #{name => "GET /items/a%2Fb (encoded slash: frameworks route on the decoded path)",
       path => <<"/items/a%2Fb">>,
       check => fun(_, S, _, _, _) -> ?assertEqual(404, code(S)) end},
     #{name => "GET /items/a%20b%2Bc%25 (space, plus, percent: decoded once, '+' kept)",
       path => <<"/items/a%20b%2Bc%25">>,
       check => fun(_, S, _, B, N) -> ok_json(S, B, N, #{<<"item_id">> => <<"a b+c%">>}) end},
     #{name => "GET /%C3%BCn%C3%AFcode (a non-ASCII route)", path => <<"/%C3%BCn%C3%AFcode">>,
       check => fun(_, S, _, B, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(<<"ünïcode ✓"/utf8>>, B)
                end},
     #{name => "GET /query with repeated, encoded, '+' and empty values", path => <<"/query">>,
       query => <<"a=1&b=two&b=three&c=caf%C3%A9&d=x+y&e=%26&empty=">>,
       check => fun(_, S, _, B, N) ->
                        ?assertEqual(200, code(S)),
                        Got = json(N, B),
                        %% "empty" (a blank value) is the framework's business.
                        ?assertEqual(#{<<"a">> => [<<"1">>], <<"b">> => [<<"two">>, <<"three">>],
                                       <<"c">> => [<<"café"/utf8>>], <<"d">> => [<<"x y">>],
                                       <<"e">> => [<<"&">>]},
                                     maps:without([<<"empty">>], Got))
                end},
     #{name => "POST /echo/json", method => <<"POST">>, path => <<"/echo/json">>,
       headers => [?HOST, {<<"content-type">>, <<"application/json">>}, content_length(Json)],
       body => Json,
       check => fun(_, S, _, B, N) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(json(N, Json), json(N, B))
                end},
     #{name => "POST /echo/form (urlencoded)", method => <<"POST">>, path => <<"/echo/form">>,
       headers => [?HOST, {<<"content-type">>, <<"application/x-www-form-urlencoded">>}, content_length(Form)],
       body => Form,
       check => fun(_, S, _, B, N) ->
                        ok_json(S, B, N, #{<<"name">> => [<<"café au lait"/utf8>>],
                                           <<"tags">> => [<<"a">>, <<"b">>], <<"sym">> => [<<"&=">>]})
                end},
     #{name => "POST /echo/bytes (all 256 byte values)", method => <<"POST">>, path => <<"/echo/bytes">>,
       headers => [?HOST, {<<"content-type">>, <<"application/octet-stream">>}, content_length(AllBytes)],
       body => AllBytes,
       check => fun(_, S, H, B, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(AllBytes, B),
                        ?assertEqual([<<"application/octet-stream">>], values(<<"content-type">>, H))
                end},
     #{name => "POST /upload (10 MiB request body)", method => <<"POST">>, path => <<"/upload">>,
       headers => [?HOST, {<<"content-type">>, <<"application/octet-stream">>}, content_length(Big)],
       body => Big,
       check => fun(_, S, _, B, N) ->
                        ok_json(S, B, N, #{<<"length">> => ?MIB10,
                                           <<"sha256">> => hex(crypto:hash(sha256, Big))})
                end},
     #{name => "POST /upload with an empty body", method => <<"POST">>, path => <<"/upload">>,
       headers => [?HOST, {<<"content-type">>, <<"application/octet-stream">>}, content_length(<<>>)],
       check => fun(_, S, _, B, N) ->
                        ok_json(S, B, N, #{<<"length">> => 0, <<"sha256">> => hex(crypto:hash(sha256, <<>>))})
                end},
     #{name => "GET /download/10485760 (10 MiB response body)", path => <<"/download/", Mib10/binary>>,
       check => fun(_, S, _, B, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(?MIB10, byte_size(B)),
                        ?assert(B =:= pattern(?MIB10))
                end},
     #{name => "GET /stream/10485760 (10 MiB in 64 KiB chunks)", path => <<"/stream/", Mib10/binary>>,
       check => fun(_, S, _, B, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(?MIB10, byte_size(B)),
                        ?assert(B =:= pattern(?MIB10))
                end},
     #{name => "GET /headers/many (100 headers, two Set-Cookie, X-Dup twice)", path => <<"/headers/many">>,
       check => fun(_, S, H, B, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual(<<"many">>, B),
                        Numbered = [{K, V} || {K, V} <- lower(H), binary:longest_common_prefix([K, <<"x-h-">>]) =:= 4],
                        ?assertEqual([{iolist_to_binary(io_lib:format("x-h-~3..0b", [I])),
                                       iolist_to_binary(io_lib:format("v~3..0b", [I]))} || I <- lists:seq(0, 99)],
                                     Numbered),
                        ?assertMatch([<<"a=1", _/binary>>, <<"b=2", _/binary>>], cookies(H)),
                        %% Django and Falcon fold the two into one header.
                        ?assertEqual(<<"one, two">>, iolist_to_binary(lists:join(<<", ">>, values(<<"x-dup">>, H))))
                end},
     #{name => "HEAD /items/42", method => <<"HEAD">>, path => <<"/items/42">>,
       check => fun(_, S, H, _, _) ->
                        ?assertEqual(200, code(S)),
                        ?assertEqual([<<"application/json">>], values(<<"content-type">>, H))
                end},
     #{name => "GET /nocontent (204)", path => <<"/nocontent">>,
       check => fun(_, S, _, B, _) -> ?assertEqual({204, <<>>}, {code(S), B}) end},
     #{name => "GET /etag with If-None-Match (304)", path => <<"/etag">>,
       headers => [?HOST, {<<"if-none-match">>, <<"\"v1\"">>}],
       check => fun(_, S, H, B, _) ->
                        ?assertEqual({304, <<>>}, {code(S), B}),
                        ?assertEqual([<<"\"v1\"">>], values(<<"etag">>, H))
                end},
     #{name => "GET /etag without If-None-Match (200)", path => <<"/etag">>,
       check => fun(_, S, _, B, _) -> ?assertEqual({200, <<"fresh">>}, {code(S), B}) end},
     #{name => "GET /no/such/route (404)", path => <<"/no/such/route">>,
       check => fun(_, S, _, _, _) -> ?assertEqual(404, code(S)) end},
     #{name => "GET /error (an app exception: the framework's own 500)", path => <<"/error">>,
       check => fun(_, S, _, _, _) -> ?assertEqual(500, code(S)) end},
     #{name => "GET /cookies (read a cookie, set two)", path => <<"/cookies">>,
       headers => [?HOST, {<<"cookie">>, <<"session=abc123; theme=dark">>}],
       check => fun(_, S, H, B, N) ->
                        ok_json(S, B, N, #{<<"session">> => <<"abc123">>, <<"theme">> => <<"dark">>}),
                        ?assertMatch([<<"visited=yes", _/binary>>, <<"token=xyz", _/binary>>], cookies(H))
                end},
     #{name => "GET /echo/headers (selected request headers, one repeated)", path => <<"/echo/headers">>,
       headers => [?HOST, {<<"user-agent">>, <<"pycnode-test/1.0">>}, {<<"x-custom">>, <<"hello">>},
                   {<<"x-multi">>, <<"one">>}, {<<"accept-language">>, <<"fr-CH, fr;q=0.9">>},
                   {<<"x-latin1">>, <<"caf", 16#E9>>}, {<<"x-multi">>, <<"two">>}],
       check => fun(_, S, _, B, N) ->
                        ?assertEqual(200, code(S)),
                        Got = json(N, B),
                        ?assertEqual([<<"hello">>], maps:get(<<"x-custom">>, Got)),
                        ?assertEqual([<<"pycnode-test/1.0">>], maps:get(<<"user-agent">>, Got)),
                        ?assertEqual([<<"fr-CH, fr;q=0.9">>], maps:get(<<"accept-language">>, Got)),
                        %% A latin-1 byte: header values are latin-1 text to every framework.
                        ?assertEqual([<<"café"/utf8>>], maps:get(<<"x-latin1">>, Got)),
                        %% ["one", "two"], or folded by the server (WSGI) or the
                        %% framework (Django, Falcon) into "one, two" / "one,two".
                        Multi = [string:trim(V) || V <- binary:split(iolist_to_binary(lists:join(<<",">>, maps:get(<<"x-multi">>, Got))), <<",">>, [global])],
                        ?assertEqual([<<"one">>, <<"two">>], Multi)
                end}].

title(#{name := Name}) -> Name.

request(C) ->
    {maps:get(method, C, <<"GET">>), maps:get(path, C), maps:get(query, C, <<>>),
     maps:get(headers, C, [?HOST]), maps:get(body, C, <<>>)}.

%% --- what pycnode is sent -----------------------------------------------------

%% The ASGI scope, with every request-describing key given (defaults for
%% asgi, root_path, state, extensions).
scope(C) ->
    {Method, Path, Query, Headers, _} = request(C),
    #{type => <<"http">>, http_version => <<"1.1">>, scheme => <<"http">>, method => Method,
      path => Path, raw_path => Path, query_string => Query, headers => Headers,
      server => {<<"testserver">>, 8080}, client => {<<"127.0.0.1">>, 54321}}.

%% The WSGI environ, built as a server would: PATH_INFO percent-decoded,
%% content-type/length as CONTENT_*, the others as HTTP_*, a repeated header
%% joined with ", " (RFC 9110 5.3; werkzeug's EnvironBuilder does the same).
environ(C) ->
    {Method, Path, Query, Headers, Body} = request(C),
    Base = #{<<"REQUEST_METHOD">> => Method, <<"SCRIPT_NAME">> => <<>>,
             <<"PATH_INFO">> => uri_string:percent_decode(Path), <<"QUERY_STRING">> => Query,
             <<"SERVER_NAME">> => <<"testserver">>, <<"SERVER_PORT">> => <<"8080">>,
             <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>,
             <<"REMOTE_ADDR">> => <<"127.0.0.1">>, <<"REMOTE_PORT">> => <<"54321">>,
             <<"wsgi.url_scheme">> => <<"http">>, <<"wsgi.input">> => Body},
    lists:foldl(fun({Name, Value}, Env) ->
                        Key = cgi_name(string:lowercase(Name)),
                        maps:update_with(Key, fun(Old) -> <<Old/binary, ", ", Value/binary>> end, Value, Env)
                end, Base, Headers).

cgi_name(<<"content-type">>) -> <<"CONTENT_TYPE">>;
cgi_name(<<"content-length">>) -> <<"CONTENT_LENGTH">>;
cgi_name(Name) -> <<"HTTP_", (binary:replace(string:uppercase(Name), <<"-">>, <<"_">>, [global]))/binary>>.

run_pycnode(N, asgi, Module, Callable, C) ->
    {_, _, _, _, Body} = request(C),
    gen_server:call({pycnode, N}, {asgi, Module, Callable, scope(C), Body, #{}}, ?TIMEOUT);
run_pycnode(N, wsgi, Module, Callable, C) ->
    gen_server:call({pycnode, N}, {wsgi, Module, Callable, environ(C), #{}}, ?TIMEOUT).

run_reference(N, Iface, Module, Callable, C) ->
    {Method, Path, Query, Headers, Body} = request(C),
    call_ref(N, atom_to_binary(Iface), [Module, Callable, Method, Path, Query, Headers, Body]).

call_ref(N, Function, Args) ->
    gen_server:call({pycnode, N}, {call, <<"reference">>, Function, Args}, ?TIMEOUT).

%% --- the tests ------------------------------------------------------------------

compare_case(#{node := N}, Iface, Module, Callable, C) ->
    Ref = run_reference(N, Iface, Module, Callable, C),
    Got = run_pycnode(N, Iface, Module, Callable, C),
    Check = maps:get(check, C),
    %% The reference must itself be right, or the comparison proves nothing.
    {ok, {RS, RH, RB}} = expect_ok(reference, Ref, Got),
    Check(Iface, RS, RH, RB, N),
    {ok, {S, H, B}} = expect_ok(pycnode, Got, Ref),
    same(Iface, title(C), {S, H, B}, {RS, RH, RB}),
    Check(Iface, S, H, B, N).

probe_fun(Kind, Callable, C) ->
    Iface = case Kind of scope -> asgi; environ -> wsgi end,
    fun(#{node := N}) ->
            Ref = run_reference(N, Iface, <<"reference">>, Callable, C),
            Got = run_pycnode(N, Iface, <<"reference">>, Callable, C),
            {ok, {_, _, RB}} = expect_ok(reference, Ref, Got),
            {ok, {_, _, B}} = expect_ok(pycnode, Got, Ref),
            probe_same(N, B, RB)
    end.

%% protocol.md allows headers as [Name, Value] lists too; names lower-cased.
scope_list_headers(#{node := N}) ->
    C = #{name => "list headers", path => <<"/items/42">>,
          headers => [?HOST, {<<"X-Mixed-Case">>, <<"v">>}]},
    {ok, {_, _, RB}} = run_reference(N, asgi, <<"reference">>, <<"scope_probe">>, C),
    Scope = (scope(C))#{headers => [[K, V] || {K, V} <- [?HOST, {<<"X-Mixed-Case">>, <<"v">>}]]},
    {ok, {200, _, B}} = gen_server:call({pycnode, N}, {asgi, <<"reference">>, <<"scope_probe">>, Scope, <<>>, #{}},
                                        ?TIMEOUT),
    probe_same(N, B, RB).

%% The seed's scope cache (REFERENCE §5) gave a second request to the same
%% path the first one's scheme, version and server: each of these must
%% come back as sent, twice over.
scope_not_reused(#{node := N}) ->
    Variants = [{<<"http">>, <<"1.1">>, {<<"testserver">>, 8080}, {<<"127.0.0.1">>, 54321}},
                {<<"https">>, <<"2">>, {<<"other.example">>, 8443}, {<<"10.1.2.3">>, 1}},
                {<<"http">>, <<"1.0">>, {<<"testserver">>, 80}, {<<"::1">>, 65535}}],
    C = #{name => "reuse", path => <<"/items/42">>, query => <<"q=1">>},
    [begin
         Scope = (scope(C))#{scheme => Scheme, http_version => Version, server => Server, client => Client},
         {ok, {200, _, B}} = gen_server:call({pycnode, N}, {asgi, <<"reference">>, <<"scope_probe">>, Scope, <<>>, #{}},
                                             ?TIMEOUT),
         #{<<"scope">> := Got} = json(N, B),
         Pair = fun({Host, Port}) -> [#{<<"type">> => <<"str">>, <<"value">> => Host},
                                      #{<<"type">> => <<"int">>, <<"value">> => Port}] end,
         ?assertEqual({Scheme, Version, Pair(Server), Pair(Client), <<"q=1">>, <<"/items/42">>},
                      {value(scheme, Got), value(http_version, Got),
                       items(server, Got), items(client, Got),
                       bytes(query_string, Got), bytes(raw_path, Got)})
     end || _ <- [1, 2], {Scheme, Version, Server, Client} <- Variants],
    ok.

environ_not_reused(#{node := N}) ->
    Variants = [{<<"http">>, <<"8080">>, <<"HTTP/1.1">>}, {<<"https">>, <<"8443">>, <<"HTTP/1.0">>}],
    C = #{name => "reuse", path => <<"/items/42">>, query => <<"q=1">>},
    [begin
         Env = (environ(C))#{<<"wsgi.url_scheme">> => Scheme, <<"SERVER_PORT">> => Port,
                             <<"SERVER_PROTOCOL">> => Protocol},
         {ok, {<<"200 OK">>, _, B}} = gen_server:call({pycnode, N},
                                                      {wsgi, <<"reference">>, <<"environ_probe">>, Env, #{}}, ?TIMEOUT),
         #{<<"environ">> := Got} = json(N, B),
         ?assertEqual({Scheme, Port, Protocol, <<"q=1">>, <<"/items/42">>},
                      {value(<<"wsgi.url_scheme">>, Got), value(<<"SERVER_PORT">>, Got),
                       value(<<"SERVER_PROTOCOL">>, Got), value(<<"QUERY_STRING">>, Got),
                       value(<<"PATH_INFO">>, Got)})
     end || _ <- [1, 2], {Scheme, Port, Protocol} <- Variants],
    ok.

scope_ref(#{node := N}) ->
    [C | _] = [C || #{path := <<"/echo/headers">>} = C <- cases()],
    {ok, Ref} = gen_server:call({pycnode, N}, {build_scope, scope(C), #{}}, ?TIMEOUT),
    ?assert(is_reference(Ref)),
    {ok, {200, _, FromMap}} = run_pycnode(N, asgi, <<"reference">>, <<"scope_probe">>, C),
    [begin
         {ok, {200, _, FromRef}} = gen_server:call({pycnode, N},
                                                   {asgi, <<"reference">>, <<"scope_probe">>, Ref, <<>>, #{}}, ?TIMEOUT),
         probe_same(N, FromRef, FromMap)
     end || _ <- [1, 2]],
    ok.

value(Key, Described) -> maps:get(<<"value">>, maps:get(key(Key), Described)).
items(Key, Described) -> maps:get(<<"items">>, maps:get(key(Key), Described)).
bytes(Key, Described) ->
    #{<<"type">> := <<"bytes">>, <<"latin1">> := V} = maps:get(key(Key), Described),
    V.
key(Key) when is_atom(Key) -> atom_to_binary(Key);
key(Key) -> Key.

probe_same(_N, B, B) ->
    ok;
probe_same(N, B, RB) ->
    Got = json(N, B),
    Want = json(N, RB),
    Diff = probe_diff(Got, Want, []),
    io:format(user, "~nprobe differs (path: {pycnode, reference}):~n~p~n", [Diff]),
    erlang:error({probe_differs, Diff}).

probe_diff(G, W, Path) when is_map(G), is_map(W) ->
    lists:append([probe_diff(maps:get(K, G, missing), maps:get(K, W, missing), [K | Path])
                  || K <- lists:usort(maps:keys(G) ++ maps:keys(W))]);
probe_diff(G, W, Path) when is_list(G), is_list(W), length(G) =:= length(W) ->
    lists:append([probe_diff(X, Y, [I | Path]) || {I, X, Y} <- lists:zip3(lists:seq(0, length(G) - 1), G, W)]);
probe_diff(X, X, _) -> [];
probe_diff(G, W, Path) -> [{lists:reverse(Path), {G, W}}].

%% 32 requests at once (the small cases, over and over) on 4 workers: each
%% reply equals the reference's for its case, computed beforehand.
concurrent(#{node := N}, Iface, Module, Callable) ->
    Small = [C || C <- cases(), byte_size(maps:get(body, C, <<>>)) < 4096,
                  binary:match(maps:get(path, C), [<<"/download/">>, <<"/stream/">>]) =:= nomatch],
    Expected = [{C, run_reference(N, Iface, Module, Callable, C)} || C <- Small],
    Jobs = [lists:nth(1 + I rem length(Expected), Expected) || I <- lists:seq(0, 31)],
    Self = self(),
    Pids = [spawn_link(fun() -> Self ! {self(), run_pycnode(N, Iface, Module, Callable, C)} end) || {C, _} <- Jobs],
    Replies = [receive {Pid, Reply} -> Reply after ?TIMEOUT -> timeout end || Pid <- Pids],
    lists:foreach(fun({{C, Ref}, Got}) ->
                          {ok, {RS, RH, RB}} = expect_ok(reference, Ref, Got),
                          {ok, {S, H, B}} = expect_ok(pycnode, Got, Ref),
                          same(Iface, title(C), {S, H, B}, {RS, RH, RB})
                  end, lists:zip(Jobs, Replies)).

%% --- comparing ---------------------------------------------------------------

expect_ok(_Side, {ok, {_, _, _}} = Ok, _Other) ->
    Ok;
expect_ok(Side, Bad, Other) ->
    io:format(user, "~n~s did not answer with a response:~n  ~s: ~s~n  other side: ~s~n",
              [Side, Side, show_reply(Bad), show_reply(Other)]),
    erlang:error({no_response, Side, short(Bad)}).

%% Equal after the normalisation described at the top.
same(Iface, Title, Got, Ref) ->
    G = normalise(Iface, Got),
    R = normalise(Iface, Ref),
    case G =:= R of
        true -> ok;
        false ->
            io:format(user, "~n~s: pycnode and the reference differ~n  pycnode:   ~s~n  reference: ~s~n~s",
                      [Title, show(Got), show(Ref), explain(G, R)]),
            erlang:error({responses_differ, Title})
    end.

normalise(Iface, {S, H, B}) ->
    Names = case Iface of
                wsgi -> fun string:lowercase/1;   % HTTP names are case-insensitive
                asgi -> fun(K) -> K end            % ASGI apps send them as they mean them
            end,
    {S, [{Names(K), date(K, V)} || {K, V} <- H], B}.

date(K, V) ->
    case string:lowercase(K) of
        <<"date">> -> <<"(a date)">>;
        _ -> V
    end.

explain({S1, H1, B1}, {S2, H2, B2}) ->
    [[io_lib:format("  status: ~p vs ~p~n", [S1, S2]) || S1 =/= S2],
     [io_lib:format("  headers only in pycnode's reply: ~p~n  headers only in the reference's: ~p~n  (order: ~p vs ~p)~n",
                    [H1 -- H2, H2 -- H1, [K || {K, _} <- H1], [K || {K, _} <- H2]]) || H1 =/= H2],
     [io_lib:format("  bodies differ: ~b vs ~b bytes, first difference at byte ~p~n",
                    [byte_size(B1), byte_size(B2), first_difference(B1, B2)]) || B1 =/= B2]].

first_difference(A, B) ->
    binary:longest_common_prefix([A, B]).

show({S, H, B}) ->
    io_lib:format("status ~p, ~b headers ~P, body ~s", [S, length(H), H, 12, show_body(B)]).

show_reply({ok, {_, _, _} = R}) -> ["{ok, ", show(R), "}"];
show_reply(Other) -> io_lib:format("~P", [Other, 40]).

short({error, {python, Type, Message, _Traceback}}) -> {error, {python, Type, Message}};
short(Other) -> Other.

show_body(B) when byte_size(B) =< 200 -> io_lib:format("~p", [B]);
show_body(B) ->
    io_lib:format("~b bytes (sha256 ~s) starting ~p", [byte_size(B), binary:part(hex(crypto:hash(sha256, B)), 0, 16),
                                                      binary:part(B, 0, 60)]).

%% --- helpers -----------------------------------------------------------------

code(Status) when is_integer(Status) -> Status;
code(<<Code:3/binary, _/binary>>) -> binary_to_integer(Code).

ok_json(S, B, N, Expected) ->
    ?assertEqual(200, code(S)),
    ?assertEqual(Expected, json(N, B)).

%% JSON decoded by Python's json module through a plain {call}: OTP 25 has
%% no JSON decoder, and {call} is not the code under test here.
json(N, B) ->
    case call_ref(N, <<"json_decode">>, [B]) of
        {ok, Term} -> Term;
        Error -> erlang:error({not_json, B, Error})
    end.

lower(H) -> [{string:lowercase(K), V} || {K, V} <- H].

values(Name, H) -> [V || {K, V} <- lower(H), K =:= Name].

%% Set-Cookie values in order; Django's WSGI handler puts a space first.
cookies(H) -> [string:trim(V, leading) || V <- values(<<"set-cookie">>, H)].

content_length(Body) -> {<<"content-length">>, integer_to_binary(byte_size(Body))}.

hex(Bin) -> string:lowercase(binary:encode_hex(Bin)).

%% reference.pattern/1: the bytes 0..250 over and over.
pattern(Size) ->
    Base = list_to_binary(lists:seq(0, 250)),
    binary:part(binary:copy(Base, Size div 251 + 1), 0, Size).

%% 10 MiB that is not the download pattern (period 253, bytes 7*I).
upload_body() ->
    Base = << <<((I * 7) band 255)>> || I <- lists:seq(0, 252) >>,
    binary:part(binary:copy(Base, ?MIB10 div 253 + 1), 0, ?MIB10).
