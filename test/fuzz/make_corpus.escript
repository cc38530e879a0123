#!/usr/bin/env escript
%% Writes the seed corpora of `make fuzz' (test/fuzz/corpus/*): valid inputs
%% of each kind for the fuzzer to mutate. Deterministic; run it again after
%% changing it, and commit the files.
%%
%%   escript test/fuzz/make_corpus.escript
main(_) ->
    Dir = filename:join(filename:dirname(escript:script_name()), "corpus"),
    Terms = [ok, 42, -7, 1 bsl 70, 3.25, <<"bin">>, "chars", [1, [2, [3]]], {a, b, c}, #{k => v, 1 => [x]},
             self(), make_ref(), <<1:3>>, 'utf8_ü', fun erlang:abs/1,
             {'$gen_call', {self(), [alias | make_ref()]}, {call, <<"m">>, <<"f">>, [1, 2.5, <<"x">>]}},
             {asgi, <<"app">>, <<"application">>, #{path => <<"/">>}, <<"body">>}],
    write(Dir, "term", [term_to_binary(T) || T <- Terms]
                       ++ [term_to_binary(T, [{minor_version, 1}]) || T <- [1.5, -0.0]]),
    Packets = [packet(control(6, <<"pycnode">>), {'$gen_call', {self(), make_ref()}, ping}),
               packet(control(6, <<"pycnode">>), {'$gen_call', {self(), make_ref()}, {call, <<"m">>, <<"f">>, []}}),
               <<0:32>>],
    write(Dir, "frame", [<<Max, Chunk, Stream/binary>> || Max <- [4, 12, 17], Chunk <- [0, 6, 96],
                                                        Stream <- [iolist_to_binary(Packets)]]),
    Name = <<"erl@host">>,
    Flags = 16#4 bor 16#8 bor 16#10 bor 16#80 bor 16#100 bor 16#200 bor 16#400 bor 16#800 bor 16#4000
        bor 16#10000 bor 16#20000 bor 16#40000 bor 16#1000000 bor 16#2000000 bor 16#4000000,
    SendName = msg(<<"N", Flags:64, 7:32, (byte_size(Name)):16, Name/binary>>),
    OldName = msg(<<"n", 5:16, Flags:32, Name/binary>>),
    Reply = msg(<<"r", 1234:32, (erlang:md5("cookie0"))/binary>>),
    Complement = msg(<<"c", 4:32, 9:32>>),
    write(Dir, "handshake", [<<Chunk, Bytes/binary>> || Chunk <- [0, 3, 63],
                             Bytes <- [<<SendName/binary, Reply/binary>>,
                                       <<OldName/binary, Complement/binary, Reply/binary>>]]).

control(Op, To) -> term_to_binary({Op, self(), '', binary_to_atom(To)}).

packet(Control, Message) ->
    Body = <<"p", Control/binary, (term_to_binary(Message))/binary>>,
    <<(byte_size(Body)):32, Body/binary>>.

msg(Body) -> <<(byte_size(Body)):16, Body/binary>>.

write(Dir, Kind, Seeds) ->
    Sub = filename:join(Dir, Kind),
    ok = filelib:ensure_dir(filename:join(Sub, "x")),
    [ok = file:write_file(filename:join(Sub, io_lib:format("seed-~2..0b", [I])), Seed)
     || {I, Seed} <- lists:zip(lists:seq(1, length(Seeds)), Seeds)],
    ok.
