%% @doc An inets `httpd' module that serves HTTP requests with Python ASGI
%% and WSGI apps running on pycnode.
%%
%% Put `pycnode_httpd' in the server's `modules' and give it routes: each
%% route mounts one Python app at a path prefix. A request under a prefix is
%% turned into {@link py_asgi:run/5} or {@link py_wsgi:run/4} (body read
%% fully), and the app's status, headers and body are sent back.
%%
%% ```
%% {ok, _} = application:ensure_all_started(inets),
%% {ok, Pid} = inets:start(httpd,
%%     [{port, 8080}, {server_name, "api"}, {server_root, "/tmp"},
%%      {document_root, "/tmp"}, {bind_address, {127, 0, 0, 1}},
%%      {modules, [pycnode_httpd]},
%%      {pycnode_routes, [{"/asgi", asgi, asgi_app, app, #{node => 'pycnode@host'}},
%%                        {"/wsgi", wsgi, wsgi_app, app, #{node => 'pycnode@host'}}]}]).
%% '''
%% or simply `pycnode_httpd:start(8080, Routes)'.
%% The app sees where it is mounted: for ASGI `root_path' is the prefix and
%% `path' the rest (see `asgi_path' below), for WSGI `SCRIPT_NAME' is the
%% prefix and `PATH_INFO' the rest, percent-decoded. `server' and `client'
%% (`SERVER_NAME', `SERVER_PORT', `REMOTE_ADDR', `REMOTE_PORT') come from the
%% socket. ASGI gets the request headers as received (names lower-cased, order
%% and duplicates kept); WSGI gets them as `HTTP_*' keys (duplicates joined
%% with ", ", names with `_' dropped, as gunicorn and nginx do, since they
%% would be indistinguishable from `-'), plus `CONTENT_TYPE' and
%% `CONTENT_LENGTH'.
%%
%% Responses: the app's headers are sent as they are except the framing ones
%% (`content-length' is set from the body, `transfer-encoding', `connection'
%% and `keep-alive' are inets' business). inets adds `date', `server', and
%% `content-type: text/html' when the app sent no content type.
%% When the app fails the client gets a short text/plain answer and a line
%% is logged (`logger:error/2', starting "pycnode_httpd: "): 504 for a timeout, 502 when
%% the pycnode node is down, 503 when it is overloaded, 500 otherwise (a
%% Python exception, a protocol error, an invalid response).
%%
%% == Configuration ==
%%
%% httpd properties (or, when `pycnode_routes' is not set, the `pycnode'
%% application's `httpd_routes' environment):
%%
%% <dl>
%% <dt>`{pycnode_routes, [route()]}'</dt>
%% <dd>The routes; the longest matching prefix wins.</dd>
%% <dt>`{pycnode_unrouted, proceed | not_found}'</dt>
%% <dd>What to do with a request under no prefix: leave it to the next
%% modules (`proceed', the default) or answer 404 (`not_found', what
%% {@link start/3} sets).</dd>
%% </dl>
-module(pycnode_httpd).

-include_lib("inets/include/httpd.hrl").

%% httpd module callbacks
-export([do/1, store/2]).
%% A server for `make run' and quick starts
-export([start/2, start/3, stop/1, port/1]).

-export_type([route/0, route_opts/0]).

-type route() :: {Prefix :: string() | binary(), asgi | wsgi, Module :: pycnode:name(), Callable :: pycnode:name()}
               | {Prefix :: string() | binary(), asgi | wsgi, Module :: pycnode:name(), Callable :: pycnode:name(),
                  route_opts()}.
%% Mounts `Module.Callable' at `Prefix' (`"/api"', or `""' / `"/"' for the
%% whole server): `/api' and everything under `/api/' go to the app.

-type route_opts() :: #{node => node(),
                        timeout => timeout(),
                        name => atom(),
                        runner => pycnode:name(),
                        asgi_path => relative | full}.
%% `node', `timeout', `name', `runner': as in {@link py_asgi:opts()}.
%% `asgi_path' (ASGI only): `relative' (the default) sends `path' without
%% the prefix, the convention of Starlette before 0.33 (Debian 12 ships
%% 0.26) and of Django; `full' sends the whole path, as the ASGI spec now
%% says and Starlette 0.35+ expects. `root_path' is the prefix either way,
%% and `raw_path' the whole path as received.

-type route_() :: #{prefix := binary(), script_name := binary(), kind := asgi | wsgi, module := binary(),
                    callable := binary(), opts := map(), asgi_path := relative | full}.

%% --- httpd callbacks -------------------------------------------------------

%% @doc The httpd module entry point: serves the request if it is under one
%% of the routes and no earlier module has answered it.
-spec do(#mod{}) -> {proceed, list()} | {continue, term()}.
do(#mod{data = Data} = Mod) ->
    case proplists:get_value(status, Data) =/= undefined
        orelse proplists:get_value(response, Data) =/= undefined of
        true -> {proceed, Data};
        false -> dispatch(Mod)
    end.

%% @doc Checks this module's httpd properties when the server starts
%% (`pycnode_routes', `pycnode_unrouted'); httpd passes every property to
%% every module and goes on to the next one on `function_clause'.
-spec store({atom(), term()}, list()) -> {ok, {atom(), term()}} | {error, term()}.
store({pycnode_routes, Routes}, _Config) ->
    case routes(Routes) of
        {ok, Checked} -> {ok, {pycnode_routes, Checked}};
        {error, Reason} -> {error, {pycnode_routes, Reason}}
    end;
store({pycnode_unrouted, What}, _Config) ->
    case What of
        proceed -> {ok, {pycnode_unrouted, What}};
        not_found -> {ok, {pycnode_unrouted, What}};
        _ -> {error, {pycnode_unrouted, What}}
    end.

%% --- start and stop --------------------------------------------------------

%% @equiv start(Port, Routes, [])
-spec start(inet:port_number(), [route()]) -> {ok, pid()} | {error, term()}.
start(Port, Routes) ->
    start(Port, Routes, []).

%% @doc Starts inets (if needed) and an httpd on `Port' (0: any free port,
%% see {@link port/1}) that serves `Routes' and answers 404 elsewhere.
%% It listens on 127.0.0.1 unless `Props' says otherwise
%% (`{bind_address, any}'); `Props' are more httpd properties, and win over
%% the defaults (`server_name', `modules', `max_body_size'...).
-spec start(inet:port_number(), [route()], [{atom(), term()}]) -> {ok, pid()} | {error, term()}.
start(Port, Routes, Props) ->
    %% Checked here too (httpd would, through store/2) for a plain error
    %% rather than httpd's crash reports.
    Checks = [store({pycnode_routes, proplists:get_value(pycnode_routes, Props, Routes)}, []),
              store({pycnode_unrouted, proplists:get_value(pycnode_unrouted, Props, not_found)}, [])],
    case [E || {error, _} = E <- Checks] ++ [application:ensure_all_started(inets)] of
        [{error, _} = Error | _] ->
            Error;
        [{ok, _}] ->
            Dir = case code:which(?MODULE) of
                      Beam when is_list(Beam) -> filename:dirname(Beam);
                      _ -> element(2, file:get_cwd())
                  end,
            Defaults = [{port, Port},
                        {server_name, "pycnode"},
                        {server_root, Dir},
                        {document_root, Dir},
                        {bind_address, {127, 0, 0, 1}},
                        {modules, [?MODULE]},
                        {pycnode_routes, Routes},
                        {pycnode_unrouted, not_found}],
            inets:start(httpd, Props ++ [D || {K, _} = D <- Defaults, not proplists:is_defined(K, Props)])
    end.

%% @doc Stops a server that {@link start/3} started.
-spec stop(pid()) -> ok | {error, term()}.
stop(Pid) ->
    inets:stop(httpd, Pid).

%% @doc The port a server listens on (the one chosen when started with 0).
-spec port(pid()) -> inet:port_number().
port(Pid) ->
    proplists:get_value(port, httpd:info(Pid, [port])).

%% --- routing -----------------------------------------------------------------

-spec dispatch(#mod{}) -> {proceed, list()} | {continue, term()}.
dispatch(#mod{request_uri = Uri, config_db = Db, data = Data} = Mod) ->
    {RawPath, Query} = case binary:split(list_to_binary(Uri), <<"?">>) of
                           [P, Q] -> {P, Q};
                           [P] -> {P, <<>>}
                       end,
    case match(RawPath, configured_routes(Db)) of
        {ok, Route, Rest} ->
            case Mod#mod.entity_body of
                %% max_client_body_chunk: httpd hands the body over in parts.
                {first, Chunk} -> {continue, [Chunk]};
                {continue, Chunk, Acc} -> {continue, [parts(Acc), Chunk]};
                {last, Chunk, Acc} -> serve(Mod, Route, RawPath, Rest, Query, iolist_to_binary([parts(Acc), Chunk]));
                Body -> serve(Mod, Route, RawPath, Rest, Query, iolist_to_binary(Body))
            end;
        nomatch ->
            case httpd_util:lookup(Db, pycnode_unrouted, proceed) of
                not_found -> reply_text(Mod, 404, "Not Found");
                proceed -> {proceed, Data}
            end
    end.

-spec parts(term()) -> iolist().
parts(undefined) -> [];
parts(Acc) -> Acc.

-spec configured_routes(ets:tid() | atom()) -> [route_()].
configured_routes(Db) ->
    case httpd_util:lookup(Db, pycnode_routes) of
        undefined ->
            case routes(application:get_env(pycnode, httpd_routes, [])) of
                {ok, Routes} -> Routes;
                {error, Reason} -> erlang:error({bad_pycnode_httpd_routes, Reason})
            end;
        Routes ->
            Routes
    end.

%% The route for RawPath, and the rest of the path after its prefix.
-spec match(binary(), [route_()]) -> {ok, route_(), binary()} | nomatch.
match(_RawPath, []) ->
    nomatch;
match(RawPath, [#{prefix := Prefix} = Route | Routes]) ->
    N = byte_size(Prefix),
    case RawPath of
        Prefix -> {ok, Route, <<>>};
        <<Prefix:N/binary, $/, _/binary>> -> {ok, Route, binary:part(RawPath, N, byte_size(RawPath) - N)};
        _ -> match(RawPath, Routes)
    end.

%% Routes as configured -> checked and normalised, longest prefix first.
-spec routes(term()) -> {ok, [route_()]} | {error, term()}.
routes(Routes) when is_list(Routes) ->
    Checked = [route(R) || R <- Routes],
    case [E || {error, _} = E <- Checked] of
        [] ->
            Sorted = lists:sort(fun(#{prefix := A}, #{prefix := B}) -> byte_size(A) >= byte_size(B) end,
                                [R || {ok, R} <- Checked]),
            {ok, Sorted};
        [{error, Reason} | _] ->
            {error, Reason}
    end;
routes(Other) ->
    {error, {not_a_list, Other}}.

-spec route(term()) -> {ok, route_()} | {error, term()}.
route({Prefix, Kind, Module, Callable} = Route) ->
    case route({Prefix, Kind, Module, Callable, #{}}) of
        {ok, _} = Ok -> Ok;
        {error, _} -> {error, {bad_route, Route}}
    end;
route({Prefix0, Kind, Module, Callable, Opts} = Route) when Kind =:= asgi; Kind =:= wsgi ->
    Prefix = prefix(Prefix0),
    AsgiPath = case is_map(Opts) of
                   true -> maps:get(asgi_path, Opts, relative);
                   false -> relative
               end,
    PyOpts = case is_map(Opts) of
                 true -> maps:remove(asgi_path, Opts);
                 false -> Opts
             end,
    ScriptName = case Prefix of
                     {ok, P0} -> uri_string:percent_decode(P0);
                     error -> error
                 end,
    case {Prefix, ScriptName, pycnode_web:name(module, Module), pycnode_web:name(callable, Callable),
          pycnode_web:options(PyOpts), AsgiPath} of
        {{ok, P}, S, {ok, M}, {ok, C}, {ok, _, _, _}, Path}
          when is_binary(S), Path =:= relative orelse Path =:= full ->
            {ok, #{prefix => P, script_name => S, kind => Kind, module => M, callable => C,
                   opts => PyOpts, asgi_path => Path}};
        _ ->
            {error, {bad_route, Route}}
    end;
route(Route) ->
    {error, {bad_route, Route}}.

%% "/api/" -> <<"/api">>; "/" and "" -> <<>> (the whole server).
-spec prefix(term()) -> {ok, binary()} | error.
prefix(Prefix) when is_list(Prefix) ->
    try unicode:characters_to_binary(Prefix) of
        Bin when is_binary(Bin) -> prefix(Bin);
        _ -> error
    catch
        error:_ -> error
    end;
prefix(<<>>) ->
    {ok, <<>>};
prefix(<<"/", _/binary>> = Prefix) ->
    {ok, string:trim(Prefix, trailing, "/")};
prefix(_) ->
    error.

%% --- one request ---------------------------------------------------------------

-spec serve(#mod{}, route_(), binary(), binary(), binary(), binary()) -> {proceed, list()}.
serve(Mod, Route, RawPath, Rest, Query, Body) ->
    case {uri_string:percent_decode(RawPath), uri_string:percent_decode(Rest)} of
        {Path, RestPath} when is_binary(Path), is_binary(RestPath) ->
            serve(Mod, Route, RawPath, Rest, RestPath, Query, Body);
        _ ->
            reply_text(Mod, 400, "Bad Request")
    end.

-spec serve(#mod{}, route_(), binary(), binary(), binary(), binary(), binary()) -> {proceed, list()}.
serve(Mod, #{kind := asgi, module := M, callable := C, opts := Opts} = Route, RawPath, Rest, _RestPath, Query, Body) ->
    Path = case Route of
               #{asgi_path := full} -> RawPath;
               #{} when Rest =:= <<>> -> <<"/">>;
               #{} -> Rest
           end,
    Scope = (common(Mod))#{path => Path,
                           raw_path => RawPath,
                           root_path => maps:get(prefix, Route),
                           query_string => Query},
    respond(Mod, py_asgi:run(M, C, Scope, Body, Opts));
serve(Mod, #{kind := wsgi, module := M, callable := C, opts := Opts, script_name := ScriptName},
      _RawPath, _Rest, RestPath, Query, Body) ->
    Environ = environ(Mod, ScriptName, RestPath, Query, Body),
    respond(Mod, py_wsgi:run(M, C, Environ, Opts)).

%% What an ASGI scope takes from the connection and the request line.
-spec common(#mod{}) -> py_asgi:scope().
common(#mod{init_data = #init_data{peername = {PeerPort, PeerIp}, sockname = {SockPort, SockIp}},
            method = Method, http_version = Version, socket_type = SocketType,
            parsed_header = Headers}) ->
    #{type => <<"http">>,
      http_version => case Version of
                          "HTTP/" ++ V -> list_to_binary(V);
                          _ -> <<"1.1">>
                      end,
      method => list_to_binary(Method),
      scheme => scheme(SocketType),
      path => <<"/">>,
      %% httpd keeps them newest first.
      headers => [{list_to_binary(N), list_to_binary(V)} || {N, V} <- lists:reverse(Headers)],
      server => {list_to_binary(SockIp), SockPort},
      client => {list_to_binary(PeerIp), PeerPort}}.

-spec environ(#mod{}, binary(), binary(), binary(), binary()) -> py_wsgi:environ().
environ(#mod{init_data = #init_data{peername = {PeerPort, PeerIp}, sockname = {SockPort, SockIp}},
             method = Method, http_version = Version, socket_type = SocketType,
             parsed_header = Headers0},
        ScriptName, PathInfo, Query, Body) ->
    Headers = lists:reverse(Headers0),
    Base = #{<<"REQUEST_METHOD">> => list_to_binary(Method),
             <<"SCRIPT_NAME">> => ScriptName,
             <<"PATH_INFO">> => PathInfo,
             <<"QUERY_STRING">> => Query,
             <<"SERVER_NAME">> => list_to_binary(SockIp),
             <<"SERVER_PORT">> => integer_to_binary(SockPort),
             <<"SERVER_PROTOCOL">> => list_to_binary(Version),
             <<"REMOTE_ADDR">> => list_to_binary(PeerIp),
             <<"REMOTE_PORT">> => integer_to_binary(PeerPort),
             <<"wsgi.url_scheme">> => scheme(SocketType),
             <<"wsgi.input">> => Body},
    WithType = case lists:keyfind("content-type", 1, Headers) of
                   {_, Type} -> Base#{<<"CONTENT_TYPE">> => list_to_binary(Type)};
                   false -> Base
               end,
    %% The body is whole (httpd has undone any chunked encoding): its size
    %% is the length.
    WithLength = case lists:keymember("content-length", 1, Headers) orelse Body =/= <<>> of
                     true -> WithType#{<<"CONTENT_LENGTH">> => integer_to_binary(byte_size(Body))};
                     false -> WithType
                 end,
    lists:foldl(fun cgi_header/2, WithLength, Headers).

-spec cgi_header({string(), string()}, map()) -> map().
cgi_header({Name, _}, Env) when Name =:= "content-type"; Name =:= "content-length";
                                Name =:= "transfer-encoding" ->
    Env;
cgi_header({Name, Value}, Env) ->
    case lists:member($_, Name) of
        true ->
            Env;
        false ->
            Key = iolist_to_binary(["HTTP_", string:uppercase([case C of $- -> $_; _ -> C end || C <- Name])]),
            Sep = case Name of "cookie" -> <<"; ">>; _ -> <<", ">> end,
            V = list_to_binary(Value),
            maps:update_with(Key, fun(Old) -> <<Old/binary, Sep/binary, V/binary>> end, V, Env)
    end.

-spec scheme(term()) -> binary().
scheme(ip_comm) -> <<"http">>;
scheme({ip_comm, _}) -> <<"http">>;
scheme(_) -> <<"https">>.

%% --- the response ---------------------------------------------------------------

-spec respond(#mod{}, {ok, {integer() | binary(), list(), binary()}} | {error, term()}) -> {proceed, list()}.
respond(Mod, {ok, {Status, Headers, Body}}) ->
    case {status_code(Status), headers(Headers)} of
        {{ok, Code}, {ok, Hs}} ->
            reply(Mod, Code, Hs, Body);
        {{ok, _}, error} ->
            failed(Mod, {invalid_response_headers, Headers});
        {error, _} ->
            failed(Mod, {invalid_status, Status})
    end;
respond(Mod, {error, Reason}) ->
    failed(Mod, Reason).

%% ASGI gives an integer, WSGI a status line such as <<"404 Not Found">>.
-spec status_code(term()) -> {ok, 100..999} | error.
status_code(Code) when is_integer(Code), Code >= 100, Code =< 999 ->
    {ok, Code};
status_code(<<D1, D2, D3, Rest/binary>>) when D1 >= $1, D1 =< $9, D2 >= $0, D2 =< $9, D3 >= $0, D3 =< $9,
                                              (Rest =:= <<>> orelse binary_part(Rest, 0, 1) =:= <<" ">>) ->
    {ok, list_to_integer([D1, D2, D3])};
status_code(_) ->
    error.

%% The app's headers as httpd wants them ({"lower-case-name", "value"}),
%% refused if a name is not a token or a value could split the response.
-spec headers(term()) -> {ok, [{string(), string()}]} | error.
headers(Headers) when is_list(Headers) ->
    try
        {ok, [header(H) || H <- Headers]}
    catch
        throw:bad_header -> error
    end;
headers(_) ->
    error.

-spec header(term()) -> {string(), string()}.
header({Name, Value}) when is_binary(Name), Name =/= <<>>, is_binary(Value) ->
    Token = fun(C) -> (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z)
                          orelse (C >= $0 andalso C =< $9) orelse lists:member(C, "!#$%&'*+-.^_`|~")
            end,
    case lists:all(Token, binary_to_list(Name))
        andalso binary:match(Value, [<<"\r">>, <<"\n">>, <<0>>]) =:= nomatch of
        true -> {string:lowercase(binary_to_list(Name)), binary_to_list(Value)};
        false -> throw(bad_header)
    end;
header(_) ->
    throw(bad_header).

-spec reply(#mod{}, 100..999, [{string(), string()}], binary()) -> {proceed, list()}.
reply(#mod{method = Method, data = Data}, Code, Headers0, Body) ->
    Headers = [H || {Name, _} = H <- Headers0,
                    not lists:member(Name, ["content-length", "transfer-encoding", "connection", "keep-alive"])],
    AppLength = [H || {"content-length", _} = H <- Headers0],
    {Framing, Sent} = if
                          Code < 200; Code =:= 204 -> {[], <<>>};
                          %% No body, but the length of the one a GET would get.
                          Method =:= "HEAD"; Code =:= 304 -> {lists:sublist(AppLength, 1), <<>>};
                          true -> {[{"content-length", integer_to_list(byte_size(Body))}], Body}
                      end,
    {proceed, [{response, {response, [{code, Code} | Framing ++ Headers], Sent}} | Data]}.

-spec failed(#mod{}, term()) -> {proceed, list()}.
failed(#mod{method = Method, request_uri = Uri} = Mod, Reason) ->
    {Code, Text} = case Reason of
                       timeout -> {504, "Gateway Timeout"};
                       {nodedown, _} -> {502, "Bad Gateway"};
                       overloaded -> {503, "Service Unavailable"};
                       _ -> {500, "Internal Server Error"}
                   end,
    logger:error("pycnode_httpd: ~ts ~ts -> ~b: ~ts", [Method, Uri, Code, describe(Reason)]),
    reply_text(Mod, Code, Text).

-spec describe(term()) -> unicode:chardata().
describe({python, Type, Message, Traceback}) when is_binary(Type), is_binary(Message), is_binary(Traceback) ->
    io_lib:format("Python ~ts: ~ts~n~ts", [Type, Message, Traceback]);
describe(Reason) ->
    io_lib:format("~0P", [Reason, 30]).

-spec reply_text(#mod{}, 100..999, string()) -> {proceed, list()}.
reply_text(Mod, Code, Text) ->
    reply(Mod, Code, [{"content-type", "text/plain; charset=utf-8"}], list_to_binary([Text, $\n])).
