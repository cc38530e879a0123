%% @doc Runs a Python WSGI application (PEP 3333) for one HTTP request, on a
%% pycnode node.
%%
%% The Erlang side has received the request: it describes it as a WSGI
%% environ (a map with binary keys, the whole body in `<<"wsgi.input">>')
%% and gets back the whole response, with the status as the app gave it
%% (`<<"200 OK">>').
%%
%% ```
%% Environ = #{<<"REQUEST_METHOD">> => <<"GET">>, <<"SCRIPT_NAME">> => <<>>,
%%             <<"PATH_INFO">> => <<"/hello">>, <<"QUERY_STRING">> => <<"name=x">>,
%%             <<"SERVER_NAME">> => <<"localhost">>, <<"SERVER_PORT">> => <<"8080">>,
%%             <<"SERVER_PROTOCOL">> => <<"HTTP/1.1">>, <<"wsgi.input">> => <<>>},
%% {ok, {<<"200 OK">>, RespHeaders, RespBody}} = py_wsgi:run(myapp, app, Environ).
%% '''
%%
%% How each key reaches Python (CGI keys and `HTTP_*' as latin-1 `str',
%% `wsgi.input' as a stream, the `wsgi.*' defaults) is in docs/protocol.md
%% ("The WSGI environ, from Erlang"); docs/guide.md shows handlers.
-module(py_wsgi).

-export([run/3, run/4]).

-export_type([environ/0, opts/0, response/0, error_reason/0]).

-type environ() :: #{binary() => term()}.
%% CGI keys (`<<"REQUEST_METHOD">>', `<<"SCRIPT_NAME">>', `<<"PATH_INFO">>'
%% percent-decoded, `<<"QUERY_STRING">>', `<<"CONTENT_TYPE">>',
%% `<<"CONTENT_LENGTH">>', `<<"SERVER_NAME">>', `<<"SERVER_PORT">>',
%% `<<"SERVER_PROTOCOL">>', `<<"HTTP_*">>') with binary values, and
%% `<<"wsgi.input">>' (the whole body, a binary), `<<"wsgi.url_scheme">>',
%% `<<"wsgi.version">>', `<<"wsgi.multithread">>'... as docs/protocol.md says.

-type opts() :: #{runner => pycnode:name(),
                  node => node(),
                  timeout => timeout(),
                  name => atom()}.
%% `runner': a Python module with `def run_wsgi(app, environ)' returning
%% `(status, headers, body)' (default: pycnode's native runner); `node',
%% `timeout', `name' as in {@link py_asgi:opts()}. Other keys are ignored.

-type response() :: {StatusLine :: binary(), [{Name :: binary(), Value :: binary()}], Body :: binary()}.
%% The whole response: the status line as the app passed it to
%% `start_response' (`<<"404 Not Found">>'), headers as it gave them, and the
%% body (every item of the app's iterable, joined).

-type error_reason() ::
        pycnode:error_reason()
      | {wsgi_protocol, binary()}
      | {badarg, pycnode_args:what()}.
%% Besides {@link pycnode:error_reason()}: `{wsgi_protocol, Detail}' when
%% the app broke PEP 3333 (no `start_response', hop-by-hop headers...), and
%% `{badarg, What}' when an argument was obviously wrong (nothing was sent).

%% @equiv run(Module, Callable, Environ, #{})
-spec run(Module, Callable, Environ) -> {ok, response()} | {error, error_reason()} when
      Module :: pycnode:name(),
      Callable :: pycnode:name(),
      Environ :: environ().
run(Module, Callable, Environ) ->
    run(Module, Callable, Environ, #{}).

%% @doc Runs `Module.Callable' (a WSGI application; `Callable' may be a
%% dotted path) for the request described by `Environ' and returns the whole
%% response. A Python exception is `{error, {python, Type, Message,
%% Traceback}}'.
-spec run(Module, Callable, Environ, Opts) -> {ok, response()} | {error, error_reason()} when
      Module :: pycnode:name(),
      Callable :: pycnode:name(),
      Environ :: environ(),
      Opts :: opts().
run(Module, Callable, Environ, Opts) ->
    case {pycnode_web:name(module, Module), pycnode_web:name(callable, Callable)} of
        {{ok, M}, {ok, C}} -> run_checked(M, C, Environ, Opts);
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end.

%% Internal functions

-spec run_checked(binary(), binary(), term(), term()) ->
          {ok, response()} | {error, error_reason()}.
run_checked(_M, _C, Environ, _Opts) when not is_map(Environ) ->
    {error, {badarg, environ}};
run_checked(_M, _C, #{<<"wsgi.input">> := Input}, _Opts) when not is_binary(Input) ->
    {error, {badarg, body}};
run_checked(M, C, Environ, Opts) ->
    case pycnode_web:options(Opts) of
        {ok, Node, CallOpts, Wire} ->
            pycnode_web:request(Node, {wsgi, M, C, Environ, Wire}, CallOpts,
                                fun is_response/1);
        {error, _} = Error -> Error
    end.

-spec is_response(term()) -> boolean().
is_response({ok, {Status, Headers, Body}}) ->
    is_binary(Status) andalso is_list(Headers) andalso is_binary(Body);
is_response(_) ->
    false.
