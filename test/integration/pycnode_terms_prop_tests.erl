%% Property-based checks of the term mapping of docs/terms.md, with PropEr,
%% against one real pycnode: generated terms go through pyc_fixtures.echo
%% (and type_names) and come back as the docs say.
%%
%% PropEr is used through its functions (proper:forall/2, proper_types:*),
%% not proper.hrl: Debian ships the header only in erlang-proper-dev, and
%% the macros would clash with eunit.hrl's. PropEr 1.2 takes no seed, so each
%% property runs a bounded number of cases (?NUMTESTS); a failure prints the
%% shrunk counterexample.
%%
%% The model: `expected(T, Opts)' is what a call returns for T:
%% `{error, {bad_request, _}}' when a map at some depth has two keys that
%% Python considers equal (py_key/2), else `{ok, T}' with `undefined' turned
%% into `nil' under `nil => none'. Terms compare exactly: floats bit for bit
%% (OTP 25 has 0.0 =:= -0.0).
-module(pycnode_terms_prop_tests).

-include_lib("eunit/include/eunit.hrl").

-define(FIX, pyc_fixtures).
-define(NUMTESTS, 400).

-import(proper_types, [bind/3, lazy/1, sized/1, union/1, frequency/1, elements/1,
                       range/2, vector/2, list/1, byte/0, binary/0, non_empty/1]).

props_test_() ->
    {setup,
     fun() -> pycnode_harness:start_pycnode("termsprop", #{workers => 2}) end,
     fun pycnode_harness:stop_pycnode/1,
     fun(P) ->
             pycnode_harness:tests(P, [
                 {"floats at the edges round-trip bit for bit", fun float_edges/1},
                 {"default options: any term round-trips exactly", fun roundtrip_default/1},
                 {"keys equal in Python but not in Erlang are bad_request", fun clashing_keys/1},
                 {"strings => str: UTF-8 binaries round-trip, keys included", fun roundtrip_str/1},
                 {"strings => str: a binary is refused iff it is not UTF-8", fun utf8_validation/1},
                 {"nil => none: nil stays nil, undefined becomes nil", fun roundtrip_nil_none/1},
                 {"type_names: the Python type of every part", fun type_names/1}
             ], 120)
     end}.

%% --- the cases -------------------------------------------------------------

float_edges(#{node := N}) ->
    Fs = special_floats(),
    {ok, Back} = pycnode:call(N, ?FIX, echo, [Fs]),
    ?assertEqual([<<F/float>> || F <- Fs], [<<F/float>> || F <- Back]),
    ?assertEqual({ok, <<"float">>}, pycnode:call(N, ?FIX, type_names, [-0.0])).

roundtrip_default(#{node := N}) ->
    check(N, term(safe_key(#{})), #{}).

clashing_keys(#{node := N}) ->
    %% A map holding a key and its Python twin (1 and 1.0, 1 and true, ...),
    %% somewhere in a term; the rest of the term is clash-free.
    Gen = bind({term(safe_key(#{})), clashing_map(), range(0, 3)},
               fun({T, M, Depth}) -> bury(M, T, Depth) end, false),
    check(N, Gen, #{}, fun(T) -> ?assert(has_clash(T, #{})) end).

roundtrip_str(#{node := N}) ->
    %% Atom keys and binary keys may clash here (Atom('a') == 'a'): the model
    %% expects bad_request then.
    Opts = #{strings => str},
    check(N, term(leaf(Opts), safe_key(Opts)), Opts).

utf8_validation(#{node := N}) ->
    Opts = #{strings => str},
    Prop = forall(
             maybe_utf8(),
             fun(B) ->
                     Got = pycnode:call(N, ?FIX, echo, [[B]], Opts),
                     Valid = is_binary(unicode:characters_to_binary(B, utf8, utf8)),
                     Ok = case {Valid, Got} of
                              {true, {ok, [B1]}} -> B1 =:= B;
                              {false, {error, {bad_request, D}}} ->
                                  re:run(D, "argument 1: binary is not valid UTF-8") =/= nomatch;
                              _ -> false
                          end,
                     proper:whenfail(report(B, Valid, Got), fun() -> proper:collect(Valid, Ok) end)
             end),
    quickcheck(Prop).

roundtrip_nil_none(#{node := N}) ->
    Opts = #{nil => none},
    check(N, term(leaf(Opts), safe_key(Opts)), Opts).

type_names(#{node := N}) ->
    Prop = forall(
             term(safe_key(#{})),
             fun(T) ->
                     Want = names(T),
                     Got = pycnode:call(N, ?FIX, type_names, [T]),
                     Ok = case Got of
                              {ok, R} -> sort_dicts(R) =:= sort_dicts(Want);
                              _ -> false
                          end,
                     proper:whenfail(report(T, {ok, Want}, Got), fun() -> Ok end)
             end),
    quickcheck(Prop).

%% --- running a property ----------------------------------------------------

check(N, Gen, Opts) ->
    check(N, Gen, Opts, fun(_) -> ok end).

%% echo(T) with Opts returns expected(T, Opts). Pre checks the generator.
check(N, Gen, Opts, Pre) ->
    Prop = forall(
             Gen,
             fun(T) ->
                     ok = Pre(T),
                     Want = expected(T, Opts),
                     Got = pycnode:call(N, ?FIX, echo, [T], Opts),
                     Ok = case {Want, Got} of
                              {{ok, W}, {ok, G}} -> exact(W, G);
                              {bad_request, {error, {bad_request, _}}} -> true;
                              _ -> false
                          end,
                     Kind = case Want of bad_request -> bad_request; _ -> round_trip end,
                     proper:whenfail(report(T, Want, Got), fun() -> proper:collect(Kind, Ok) end)
             end),
    quickcheck(Prop).

%% proper:forall/2, but an exception in the property is a failure printed
%% here: Debian's PropEr 1.2 handles one with erlang:get_stacktrace/0, gone
%% since OTP 23, and would fail with undef instead of a counterexample.
forall(Gen, Fun) ->
    proper:forall(Gen, fun(T) ->
                               try Fun(T)
                               catch C:R:St ->
                                       io:format(user, "~nterm: ~w~nraised ~p:~p ~p~n", [T, C, R, St]),
                                       false
                               end
                       end).

quickcheck(Prop) ->
    Result = proper:quickcheck(Prop, [{numtests, ?NUMTESTS}, {to_file, user}, long_result]),
    ?assertEqual(true, Result).

report(T, Want, Got) ->
    fun() -> io:format(user, "~nterm: ~w~nexpected: ~w~ngot: ~w~n", [T, Want, Got]) end.

%% --- the model ---------------------------------------------------------------

expected(T, Opts) ->
    case has_clash(T, Opts) of
        true -> bad_request;
        false -> {ok, subst(T, Opts)}
    end.

%% undefined -> nil under nil => none, everywhere Python sees (not inside
%% opaque terms, which go back as they came).
subst(T, #{nil := none} = O) ->
    case T of
        undefined -> nil;
        _ when is_tuple(T) -> list_to_tuple([subst(E, O) || E <- tuple_to_list(T)]);
        _ when is_map(T) -> maps:from_list([{subst(K, O), subst(V, O)} || {K, V} <- maps:to_list(T)]);
        _ -> case is_proper_list(T) of
                 true -> [subst(E, O) || E <- T];
                 false -> T
             end
    end;
subst(T, _) ->
    T.

has_clash(T, O) when is_map(T) ->
    Keys = [py_key(K, O) || K <- maps:keys(T)],
    length(lists:usort(Keys)) < map_size(T)
        orelse lists:any(fun({K, V}) -> has_clash(K, O) orelse has_clash(V, O) end, maps:to_list(T));
has_clash(T, O) when is_tuple(T) ->
    lists:any(fun(E) -> has_clash(E, O) end, tuple_to_list(T));
has_clash(T, O) ->
    is_proper_list(T) andalso lists:any(fun(E) -> has_clash(E, O) end, T).

%% A key as Python compares it: numbers by value (True is 1, 1.0 is 1, -0.0
%% is 0), Atom by its name (a str), binaries as bytes or str.
py_key(true, _) -> {num, 1};
py_key(false, _) -> {num, 0};
py_key(undefined, _) -> none;
py_key(nil, #{nil := none}) -> none;
py_key(I, _) when is_integer(I) -> {num, I};
py_key(F, _) when is_float(F), F == trunc(F) -> {num, trunc(F)};
py_key(F, _) when is_float(F) -> {num, F};
py_key(A, _) when is_atom(A) -> {str, atom_to_binary(A, utf8)};
py_key(B, #{strings := str}) when is_binary(B) -> {str, B};
py_key(B, _) when is_binary(B) -> {bytes, B};
py_key(T, O) when is_tuple(T) -> {tuple, [py_key(E, O) || E <- tuple_to_list(T)]};
py_key(T, _) -> {opaque, term_to_binary(T)}.

%% The answer of pyc_fixtures.type_names for T (default options).
names(T) when is_integer(T) -> <<"int">>;
names(T) when is_float(T) -> <<"float">>;
names(T) when is_binary(T) -> <<"bytes">>;
names(T) when is_boolean(T) -> <<"bool">>;
names(undefined) -> <<"NoneType">>;
names(T) when is_atom(T) -> <<"Atom">>;
names(T) when is_tuple(T) -> [<<"tuple">>, [names(E) || E <- tuple_to_list(T)]];
names(T) when is_map(T) -> [<<"dict">>, [[names(K), names(V)] || {K, V} <- maps:to_list(T)]];
names(T) ->
    case is_proper_list(T) of
        true -> [<<"list">>, [names(E) || E <- T]];
        false -> <<"Opaque">>
    end.

%% dict items come in the order pycnode built the dict: compare them sorted.
sort_dicts([<<"dict">>, Items]) ->
    [<<"dict">>, lists:sort([[sort_dicts(K), sort_dicts(V)] || [K, V] <- Items])];
sort_dicts([Name, Parts]) -> [Name, [sort_dicts(P) || P <- Parts]];
sort_dicts(Name) -> Name.

%% =:=, but floats bit for bit.
exact(A, B) when is_float(A), is_float(B) -> <<A/float>> =:= <<B/float>>;
exact([A | As], [B | Bs]) -> exact(A, B) andalso exact(As, Bs);
exact(A, B) when is_tuple(A), is_tuple(B), tuple_size(A) =:= tuple_size(B) ->
    exact(tuple_to_list(A), tuple_to_list(B));
exact(A, B) when is_map(A), is_map(B), map_size(A) =:= map_size(B) ->
    lists:all(fun({K, V}) ->
                      case maps:find(K, B) of
                          {ok, W} -> exact(V, W) andalso exact(K, hd([K2 || K2 <- maps:keys(B), K2 =:= K]));
                          error -> false
                      end
              end, maps:to_list(A));
exact(A, B) -> A =:= B.

is_proper_list([]) -> true;
is_proper_list([_ | T]) -> is_proper_list(T);
is_proper_list(_) -> false.

%% --- generators ----------------------------------------------------------------

%% Nested lists, tuples and maps of Leaf (default: leaf(#{})), at most
%% about 3 levels deep, at most 5 items a level.
term(Key) -> term(leaf(#{}), Key).

term(Leaf, Key) ->
    sized(fun(S) -> term(S, Leaf, Key) end).

term(S, Leaf, _Key) when S < 4 -> Leaf;
term(S, Leaf, Key) ->
    Sub = lazy(fun() -> term(S div 3, Leaf, Key) end),
    Items = fun(G) -> bind(range(0, 5), fun(Len) -> vector(Len, G) end, false) end,
    frequency([{3, Leaf},
               {1, Items(Sub)},
               {1, bind(Items(Sub), fun erlang:list_to_tuple/1, false)},
               {1, bind(Items({Key, Sub}), fun maps:from_list/1, false)}]).

%% Leaves; Opts: strings => str keeps binaries valid UTF-8, nil => none adds
%% nil and undefined more often.
leaf(Opts) ->
    Bin = case maps:get(strings, Opts, bytes) of
              str -> utf8_binary();
              bytes -> union([binary(), utf8_binary()])
          end,
    Nils = case maps:get(nil, Opts, atom) of
               none -> [{2, elements([nil, undefined])}];
               atom -> []
           end,
    frequency([{3, int()}, {2, float_()}, {2, Bin}, {2, atom_()}, {1, opaque()} | Nils]).

%% Keys Python can hash that never clash under default options: no floats,
%% no booleans (True == 1). Under strings => str, atom a and <<"a">> clash:
%% atoms there are drawn from the same few names as binaries, so they do.
safe_key(Opts) ->
    Scalar = case Opts of
                 #{strings := str} ->
                     union([int(), elements([<<"a">>, <<"b">>, a, b, <<"é"/utf8>>, 'é', undefined]),
                            utf8_binary()]);
                 #{nil := none} ->
                     union([int(), binary(), elements([nil, undefined, a, ok]), plain_atom()]);
                 _ ->
                     union([int(), binary(), elements([undefined, nil, '']), plain_atom(), opaque()])
             end,
    frequency([{4, Scalar}, {1, bind(bind(range(0, 3), fun(L) -> vector(L, Scalar) end, false),
                                     fun erlang:list_to_tuple/1, false)}]).

%% A map of 1-3 safe keys plus a key and its Python twin.
clashing_map() ->
    bind({twin_pair(), bind(range(0, 3), fun(L) -> vector(L, {safe_key(#{}), int()}) end, false),
          int(), int()},
         fun({{K1, K2}, Rest, V1, V2}) ->
                 maps:merge(maps:from_list(Rest), #{K1 => V1, K2 => V2})
         end, false).

%% {K1, K2}: K1 =/= K2 in Erlang, K1 == K2 (and equal hashes) in Python.
twin_pair() ->
    union([bind(range(-1000000, 1000000), fun(I) -> {I, float(I)} end, false),
           elements([{1, true}, {0, false}, {1.0, true}, {0.0, false}, {-0.0, false},
                     {1 bsl 60, float(1 bsl 60)}, {{1, a}, {true, a}}, {{<<"x">>, 0}, {<<"x">>, 0.0}}])]).

%% Puts M at Depth inside T (a list or tuple around it).
bury(M, _T, 0) -> M;
bury(M, T, D) when D rem 2 =:= 0 -> [T, bury(M, T, D - 1)];
bury(M, T, D) -> {bury(M, T, D - 1), T}.

int() ->
    frequency([{4, proper_types:integer()},
               {2, bind({range(0, 320), proper_types:integer(), elements([1, -1])},
                        fun({Bits, Low, Sign}) -> Sign * ((1 bsl Bits) + Low) end, false)},
               {1, elements([0, -1, 1 bsl 27, 1 bsl 59, (1 bsl 59) - 1, -(1 bsl 59),
                             (1 bsl 63) - 1, 1 bsl 63, -(1 bsl 63), -(1 bsl 63) - 1,
                             (1 bsl 64) - 1, 1 bsl 64, -(1 bsl 64), -(1 bsl 64) - 1])}]).

float_() ->
    frequency([{3, proper_types:float()},
               {2, elements(special_floats())},
               %% any bit pattern that is a finite float
               {3, bind(vector(8, byte()),
                        fun(Bytes) ->
                                case list_to_binary(Bytes) of
                                    <<F/float>> -> F;
                                    _ -> -0.0   % NaN or infinity
                                end
                        end, false)}]).

special_floats() ->
    [0.0, -0.0, 1.0, -1.0, 0.1, 1.0e16, 9007199254740993.0, 5.0e-324, -5.0e-324,
     2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
     -1.7976931348623157e308, 1.0e-300, 123456789.123456789].

%% Atoms: any names, up to 255 characters (the limit, in any script).
atom_() ->
    frequency([{4, plain_atom()},
               {1, elements([true, false, undefined, nil, '',
                             list_to_atom(lists:duplicate(255, $z)),
                             list_to_atom(lists:duplicate(255, 16#1F600)),
                             list_to_atom([16#10FFFF, 0, 16#7FF])])}]).

plain_atom() ->
    bind(list(char()), fun(Cs) -> list_to_atom(lists:sublist(Cs, 255)) end, false).

char() ->
    frequency([{4, range($a, $z)}, {1, range(0, 127)}, {1, range(128, 16#7FF)},
               {1, range(16#800, 16#D7FF)}, {1, range(16#E000, 16#FFFF)},
               {1, range(16#10000, 16#10FFFF)}]).

utf8_binary() ->
    bind(list(char()), fun unicode:characters_to_binary/1, false).

%% Valid UTF-8 with now and then a byte sequence that may not be: a stray
%% byte, a surrogate, an overlong form, a code point past U+10FFFF, a cut
%% sequence.
maybe_utf8() ->
    Piece = frequency([{4, utf8_binary()},
                       {1, bind(byte(), fun(B) -> <<B>> end, false)},
                       {1, elements([<<16#ED, 16#A0, 16#80>>, <<16#ED, 16#BF, 16#BF>>,
                                     <<16#C0, 16#80>>, <<16#C1, 16#BF>>, <<16#E0, 16#80, 16#80>>,
                                     <<16#F0, 16#8F, 16#BF, 16#BF>>, <<16#F4, 16#90, 16#80, 16#80>>,
                                     <<16#F5, 16#80, 16#80, 16#80>>, <<16#E2, 16#82>>, <<16#F0, 16#9F, 16#98>>,
                                     <<16#EF, 16#BF, 16#BF>>, <<16#F4, 16#8F, 16#BF, 16#BF>>, <<0>>,
                                     <<16#EF, 16#BB, 16#BF>>])}]),
    bind(list(Piece), fun erlang:list_to_binary/1, false).

%% Terms Python sees as Opaque: they go back unchanged.
opaque() ->
    Port = case erlang:ports() of
               [P | _] -> [P];
               [] -> []
           end,
    Y = 2.5,
    union([elements([self(), make_ref(), fun lists:reverse/1, fun(X) -> {X, Y} end,
                     list_to_pid("<0.4242.0>"), [a | b], [-0.0 | 1] | Port]),
           bind({binary(), range(1, 7), byte()},
                fun({B, Bits, V}) -> <<B/binary, V:Bits>> end, false),
           bind({non_empty(list(int())), union([int(), plain_atom()])},
                fun({L, Tail}) -> L ++ Tail end, false)]).
