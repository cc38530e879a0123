%% @doc Runs a Python ASGI application for one HTTP request, on a pycnode
%% node.
%%
%% The Erlang side (Cowboy, Elli, inets...) has received the request: it
%% describes it as an ASGI scope (a map with atom keys) plus the whole body,
%% and gets back the whole response. The app is imported once per
%% interpreter on pycnode and runs on a Python worker thread; `receive()'
%% gives it the body as one `http.request' event.
%%
%% ```
%% Scope = #{type => <<"http">>, method => <<"GET">>, path => <<"/items/42">>,
%%           query_string => <<"q=x">>,
%%           headers => [{<<"host">>, <<"localhost:8080">>}],
%%           server => {<<"127.0.0.1">>, 8080}, client => {<<"127.0.0.1">>, 54321}},
%% {ok, {200, RespHeaders, RespBody}} = py_asgi:run(myapp, app, Scope, <<>>).
%% '''
%%
%% The scope's keys and defaults are in docs/protocol.md ("The ASGI scope,
%% from Erlang"); docs/guide.md shows handlers for Cowboy, Elli and inets.
%% Requests go to pycnode's `{asgi, ...}' and `{build_scope, ...}' requests
%% through the same call machinery as {@link pycnode:call/5} (timeouts, no
%% late replies in the caller's mailbox, `{nodedown, Node}').
-module(py_asgi).

-export([run/4, run/5, build_scope/1, build_scope/2]).

-export_type([scope/0, scope_ref/0, header/0, opts/0, response/0, error_reason/0]).

-type header() :: {Name :: binary(), Value :: binary()} | [binary()].
%% A request header: `{Name, Value}' or, as in the ASGI spec, `[Name, Value]'.
%% Names are lower-cased on the way to Python.

-type scope() :: #{type => binary(),
                   asgi => map(),
                   http_version => binary(),
                   method => binary(),
                   scheme => binary(),
                   path := binary(),
                   raw_path => binary(),
                   query_string => binary(),
                   root_path => binary(),
                   headers => [header()],
                   server => {Host :: binary(), Port :: integer()},
                   client => {Host :: binary(), Port :: integer()},
                   state => map(),
                   extensions => map()}.
%% An HTTP scope. `path' is required, as received (percent-encoded);
%% `query_string' is the part after `?' (one leading `?' is dropped). Missing keys get the defaults of
%% docs/protocol.md (`type' `<<"http">>', `method' `<<"GET">>',
%% `http_version' `<<"1.1">>', `scheme' `<<"http">>'...).

-type scope_ref() :: reference().
%% A scope prepared once by {@link build_scope/2}, valid on the pycnode
%% node that made it (while it is live: pycnode keeps a bounded number).

-type opts() :: #{runner => pycnode:name(),
                  node => node(),
                  timeout => timeout(),
                  name => atom()}.
%% `runner': a Python module with `async def run_asgi(app, scope, body)'
%% returning `(status, headers, body)' (default: pycnode's native runner).
%% `node': the pycnode node (default {@link pycnode:default_node/0}).
%% `timeout': milliseconds or `infinity' (default the application's
%% `timeout', 5000). `name': pycnode's registered name (default `pycnode').
%% Other keys are ignored.

-type response() :: {Status :: integer(), [{Name :: binary(), Value :: binary()}], Body :: binary()}.
%% The whole response: status code, headers in the order the app sent them
%% (duplicates kept), and body.

-type error_reason() ::
        pycnode:error_reason()
      | {asgi_protocol, binary()}
      | no_response
      | unknown_scope
      | {lifespan_failed, binary()}
      | {badarg, pycnode_args:what()}.
%% Besides {@link pycnode:error_reason()}: `{asgi_protocol, Detail}' when
%% the app broke the ASGI event sequence, `no_response' when it returned
%% without starting a response, `unknown_scope' for a scope reference that
%% is not (or no longer) live on that node, `{lifespan_failed, Message}'
%% when the app answered `lifespan.startup.failed', and `{badarg, What}'
%% when an argument was obviously wrong (nothing was sent).

%% @equiv run(Module, Callable, Scope, Body, #{})
-spec run(Module, Callable, Scope, Body) -> {ok, response()} | {error, error_reason()} when
      Module :: pycnode:name(),
      Callable :: pycnode:name(),
      Scope :: scope() | scope_ref(),
      Body :: binary().
run(Module, Callable, Scope, Body) ->
    run(Module, Callable, Scope, Body, #{}).

%% @doc Runs `Module.Callable' (an ASGI 3 application; `Callable' may be a
%% dotted path) for one HTTP request described by `Scope' (a map, or a
%% reference from {@link build_scope/2} made on the same node) with
%% request body `Body', and returns the whole response.
%%
%% A Python exception is `{error, {python, Type, Message, Traceback}}'.
-spec run(Module, Callable, Scope, Body, Opts) -> {ok, response()} | {error, error_reason()} when
      Module :: pycnode:name(),
      Callable :: pycnode:name(),
      Scope :: scope() | scope_ref(),
      Body :: binary(),
      Opts :: opts().
run(Module, Callable, Scope, Body, Opts) ->
    case {pycnode_web:name(module, Module), pycnode_web:name(callable, Callable)} of
        {{ok, M}, {ok, C}} -> run_checked(M, C, Scope, Body, Opts);
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end.

%% @equiv build_scope(Scope, #{})
-spec build_scope(scope()) -> {ok, scope_ref()} | {error, error_reason()}.
build_scope(Scope) ->
    build_scope(Scope, #{}).

%% @doc Checks and prepares `Scope' once on the pycnode node and returns a
%% reference that {@link run/5} accepts in place of the map, on that node
%% only. Useful when many requests share one scope. Options: `node',
%% `timeout', `name' (as {@link run/5}).
-spec build_scope(scope(), opts()) -> {ok, scope_ref()} | {error, error_reason()}.
build_scope(Scope, Opts) when is_map(Scope) ->
    case pycnode_web:options(Opts) of
        {ok, Node, CallOpts, Wire} ->
            pycnode_web:request(Node, {build_scope, Scope, Wire}, CallOpts,
                                fun({ok, Ref}) -> is_reference(Ref);
                                   (_) -> false
                                end);
        {error, _} = Error -> Error
    end;
build_scope(_Scope, _Opts) ->
    {error, {badarg, scope}}.

%% Internal functions

-spec run_checked(binary(), binary(), term(), term(), term()) ->
          {ok, response()} | {error, error_reason()}.
run_checked(_M, _C, Scope, _Body, _Opts) when not is_map(Scope), not is_reference(Scope) ->
    {error, {badarg, scope}};
run_checked(_M, _C, _Scope, Body, _Opts) when not is_binary(Body) ->
    {error, {badarg, body}};
run_checked(M, C, Scope, Body, Opts) ->
    case pycnode_web:options(Opts) of
        {ok, Node, CallOpts, Wire} ->
            pycnode_web:request(Node, {asgi, M, C, Scope, Body, Wire}, CallOpts,
                                fun is_response/1);
        {error, _} = Error -> Error
    end.

-spec is_response(term()) -> boolean().
is_response({ok, {Status, Headers, Body}}) ->
    is_integer(Status) andalso is_list(Headers) andalso is_binary(Body);
is_response(_) ->
    false.
