%% The README's Erlang examples, run as written against a real pycnode
%% (with examples/ on its path), 'pycnode@myhost' replaced by its node name.
%% In a block of shell prompts (`N> Expr.'), each expression is evaluated in
%% turn with the bindings of the ones before; the line after it, if it is not
%% a prompt, is the printed result it must equal. A block without prompts is
%% evaluated whole. A match expression (`{ok, _} = ...') checks itself.
-module(pycnode_readme_tests).

-include_lib("eunit/include/eunit.hrl").

readme_test_() ->
    {setup,
     fun() ->
             Examples = filename:join(root(), "examples"),
             P = pycnode_harness:start_pycnode("readme", #{workers => 2, args => ["--pythonpath", Examples]}),
             %% The free-threaded build sees Debian's packages (Starlette,
             %% for examples/asgi_app.py) only with dist-packages on its
             %% path, after its own library; a no-op on Debian's 3.11.
             {ok, _} = pycnode:call(maps:get(node, P), web_api_fixtures, ensure_on_path,
                                    [<<"/usr/lib/python3/dist-packages">>]),
             P
     end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             Blocks = erlang_blocks(filename:join(root(), "README.md")),
             [?_assert(length(Blocks) >= 3)
              | [{lists:flatten(io_lib:format("README example block ~b", [I])),
                  {timeout, 30, fun() -> pycnode_harness:run_logged(P, fun() -> run_block(P, Block) end) end}}
                 || {I, Block} <- lists:zip(lists:seq(1, length(Blocks)), Blocks)]]
     end}.

root() ->
    filename:dirname(filename:dirname(os:getenv("PYCNODE_FIXTURES"))).

%% The lines of every ```erlang block.
erlang_blocks(File) ->
    {ok, Text} = file:read_file(File),
    blocks(string:split(binary_to_list(Text), "\n", all), none, []).

blocks([], _, Acc) -> lists:reverse(Acc);
blocks(["```erlang" | Rest], none, Acc) -> blocks(Rest, [], Acc);
blocks(["```" ++ _ | Rest], Lines, Acc) when is_list(Lines) -> blocks(Rest, none, [lists:reverse(Lines) | Acc]);
blocks([Line | Rest], Lines, Acc) when is_list(Lines) -> blocks(Rest, [Line | Lines], Acc);
blocks([_ | Rest], none, Acc) -> blocks(Rest, none, Acc).

run_block(#{node := N}, Lines0) ->
    Lines = [string:replace(L, "'pycnode@myhost'", io_lib:format("'~s'", [N]), all) || L <- Lines0],
    case [L || L <- Lines, is_prompt(L)] of
        [] -> eval(lists:flatten(lists:join("\n", Lines)), erl_eval:new_bindings());
        _ -> run_prompts([lists:flatten(L) || L <- Lines], erl_eval:new_bindings())
    end.

run_prompts([], _) -> ok;
run_prompts([Line | Rest], Bindings) ->
    Expr = prompt_expr(Line),
    {Value, Bindings1} = eval(Expr, Bindings),
    case Rest of
        [Next | After] when Next =/= "" ->
            case is_prompt(Next) of
                true -> run_prompts(Rest, Bindings1);
                false ->
                    {Expected, _} = eval(Next ++ ".", erl_eval:new_bindings()),
                    ?assertEqual({Expr, Expected}, {Expr, Value}),
                    run_prompts(After, Bindings1)
            end;
        _ -> run_prompts(Rest, Bindings1)
    end.

is_prompt(Line) ->
    re:run(Line, "^[0-9]+> ") =/= nomatch.

prompt_expr(Line) ->
    {match, [Expr]} = re:run(Line, "^[0-9]+> (.*)$", [{capture, all_but_first, list}]),
    Expr.

eval(Text, Bindings) ->
    {ok, Tokens, _} = erl_scan:string(Text),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, Value, Bindings1} = erl_eval:exprs(Exprs, Bindings),
    {Value, Bindings1}.
