// External term format bytes produced by real Erlang (OTP 25.2.3, node
// golden@vm), printed by term_to_binary(T, [{minor_version, 2}]) (UTF-8 atoms,
// as on a distribution connection) unless noted. Every constant includes the
// leading 131. Regenerate with the module in the comment at the end.
#pragma once

#include <initializer_list>
#include <string>

namespace golden {

inline std::string bytes(std::initializer_list<int> values) {
    std::string s;
    for (int v : values) s.push_back(static_cast<char>(v));
    return s;
}

// self() of the node, a make_ref(), and [alias|Ref]: the gen_server Tag form.
inline const std::string pid = bytes({
    131, 88, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 0, 0, 0, 9, 0, 0, 0, 0, 107, 7, 59,
    134});
inline const std::string ref = bytes({
    131, 90, 0, 3, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 107, 7, 59, 134, 0, 0, 136, 250, 54,
    24, 0, 1, 246, 217, 34, 14});
inline const std::string alias_tag = bytes({
    131, 108, 0, 0, 0, 1, 119, 5, 97, 108, 105, 97, 115, 90, 0, 3, 119, 9, 103, 111, 108, 100, 101, 110,
    64, 118, 109, 107, 7, 59, 134, 0, 0, 136, 250, 54, 24, 0, 1, 246, 217, 34, 14});
// {'$gen_call', {Pid, [alias|Ref]}, {is_auth, node()}}: what net_adm:ping sends.
inline const std::string gen_call_is_auth = bytes({
    131, 104, 3, 119, 9, 36, 103, 101, 110, 95, 99, 97, 108, 108, 104, 2, 88, 119, 9, 103, 111, 108, 100, 101,
    110, 64, 118, 109, 0, 0, 0, 9, 0, 0, 0, 0, 107, 7, 59, 134, 108, 0, 0, 0, 1, 119, 5, 97,
    108, 105, 97, 115, 90, 0, 3, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 107, 7, 59, 134, 0, 0,
    136, 250, 54, 24, 0, 1, 246, 217, 34, 14, 104, 2, 119, 7, 105, 115, 95, 97, 117, 116, 104, 119, 9, 103,
    111, 108, 100, 101, 110, 64, 118, 109});
// {6, Pid, '', net_kernel}: REG_SEND control tuple.
inline const std::string reg_send_ctl = bytes({
    131, 104, 4, 97, 6, 88, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 0, 0, 0, 9, 0, 0, 0,
    0, 107, 7, 59, 134, 119, 0, 119, 10, 110, 101, 116, 95, 107, 101, 114, 110, 101, 108});
// {2, '', Pid}: SEND control tuple.
inline const std::string send_ctl = bytes({
    131, 104, 3, 97, 2, 119, 0, 88, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 0, 0, 0, 9, 0,
    0, 0, 0, 107, 7, 59, 134});
// {[alias|Ref], yes}: the reply that makes ping return pong.
inline const std::string reply_yes = bytes({
    131, 104, 2, 108, 0, 0, 0, 1, 119, 5, 97, 108, 105, 97, 115, 90, 0, 3, 119, 9, 103, 111, 108, 100,
    101, 110, 64, 118, 109, 107, 7, 59, 134, 0, 0, 136, 250, 54, 24, 0, 1, 246, 217, 34, 14, 119, 3, 121,
    101, 115});
// hd(erlang:ports()).
inline const std::string port = bytes({
    131, 89, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 0, 0, 0, 0, 107, 7, 59, 134});
// fun lists:map/2.
inline const std::string export_fun = bytes({
    131, 113, 119, 5, 108, 105, 115, 116, 115, 119, 3, 109, 97, 112, 97, 2});
// <<1:3>>.
inline const std::string bitstring = bytes({
    131, 77, 0, 0, 0, 1, 3, 32});
// [a, b | c].
inline const std::string improper = bytes({
    131, 108, 0, 0, 0, 2, 119, 1, 97, 119, 1, 98, 119, 1, 99});
// [1000, -1, 70000].
inline const std::string int_list = bytes({
    131, 108, 0, 0, 0, 3, 98, 0, 0, 3, 232, 98, 255, 255, 255, 255, 98, 0, 1, 17, 112, 106});
// "abc" (STRING_EXT).
inline const std::string string = bytes({
    131, 107, 0, 3, 97, 98, 99});
// #{a => 1, <<"k">> => [1.5]}.
inline const std::string map = bytes({
    131, 116, 0, 0, 0, 2, 119, 1, 97, 97, 1, 109, 0, 0, 0, 1, 107, 108, 0, 0, 0, 1, 70, 63,
    248, 0, 0, 0, 0, 0, 0, 106});
// {ok, <<"bin">>, [], {}, #{}}.
inline const std::string tuple = bytes({
    131, 104, 5, 119, 2, 111, 107, 109, 0, 0, 0, 3, 98, 105, 110, 106, 104, 0, 116, 0, 0, 0, 0});
// 'héllo_日本'.
inline const std::string utf8_atom = bytes({
    131, 119, 13, 104, 195, 169, 108, 108, 111, 95, 230, 151, 165, 230, 156, 172});
// 1 bsl 64, -(1 bsl 64), -(1 bsl 63), (1 bsl 63) - 1, 1 bsl 2399 (LARGE_BIG_EXT).
inline const std::string big_2_64 = bytes({
    131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
inline const std::string big_neg_2_64 = bytes({
    131, 110, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1});
inline const std::string int64_min = bytes({
    131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128});
inline const std::string int64_max = bytes({
    131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127});
inline const std::string big_300 = bytes({
    131, 111, 0, 0, 1, 44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128});
// 3.141592653589793.
inline const std::string pi = bytes({
    131, 70, 64, 9, 33, 251, 84, 68, 45, 24});
// 1.5 with minor_version 0: FLOAT_EXT text.
inline const std::string old_float = bytes({
    131, 99, 49, 46, 53, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48,
    101, 43, 48, 48, 0, 0, 0, 0, 0});
// hello with minor_version 1: ATOM_EXT (Latin-1).
inline const std::string latin1_atom = bytes({
    131, 100, 0, 5, 104, 101, 108, 108, 111});
// fun(X) -> {X, Ref} end from compiled code: NEW_FUN_EXT with one free variable.
inline const std::string local_fun = bytes({
    131, 112, 0, 0, 0, 102, 1, 97, 232, 169, 189, 187, 169, 222, 108, 208, 170, 82, 83, 142, 17, 59, 42, 0,
    0, 0, 0, 0, 0, 0, 1, 119, 10, 103, 111, 108, 100, 101, 110, 95, 103, 101, 110, 97, 0, 98, 3, 15,
    69, 77, 88, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 0, 0, 0, 9, 0, 0, 0, 0, 107, 7,
    59, 134, 90, 0, 3, 119, 9, 103, 111, 108, 100, 101, 110, 64, 118, 109, 107, 7, 59, 134, 0, 0, 136, 250,
    54, 24, 0, 1, 246, 217, 34, 14});

}  // namespace golden

// Generator: erlc golden_gen.erl && erl -sname golden -noshell -eval 'golden_gen:main(), halt().'
//   -module(golden_gen).
//   -export([main/0]).
//   p(Name, Bin) ->
//       L = binary_to_list(Bin),
//       Lines = chunk([integer_to_list(B) || B <- L], 24),
//       io:format("inline const std::string ~s = bytes({~n~s});~n", [Name,
//           lists:join(",\n", ["    " ++ lists:join(", ", C) || C <- Lines])]).
//   chunk([], _) -> [];
//   chunk(L, N) when length(L) =< N -> [L];
//   chunk(L, N) -> {A, B} = lists:split(N, L), [A | chunk(B, N)].
//   main() ->
//       Ref = make_ref(),
//       Pid = self(),
//       T = fun(N, X) -> p(N, term_to_binary(X, [{minor_version, 2}])) end,
//       io:format("// ~s~n", [erlang:system_info(otp_release)]),
//       T("pid", Pid),
//       T("ref", Ref),
//       T("alias_tag", [alias|Ref]),
//       T("gen_call_is_auth", {'$gen_call', {Pid, [alias|Ref]}, {is_auth, node()}}),
//       T("reg_send_ctl", {6, Pid, '', net_kernel}),
//       T("send_ctl", {2, '', Pid}),
//       T("reply_yes", {[alias|Ref], yes}),
//       T("port", hd(erlang:ports())),
//       T("export_fun", fun lists:map/2),
//       T("bitstring", <<1:3>>),
//       T("improper", [a, b | c]),
//       T("int_list", [1000, -1, 70000]),
//       T("string", "abc"),
//       T("map", #{a => 1, <<"k">> => [1.5]}),
//       T("tuple", {ok, <<"bin">>, [], {}, #{}}),
//       T("utf8_atom", 'héllo_日本'),
//       T("big_2_64", 18446744073709551616),
//       T("big_neg_2_64", -18446744073709551616),
//       T("int64_min", -9223372036854775808),
//       T("int64_max", 9223372036854775807),
//       T("big_300", 1 bsl 2399),
//       T("pi", 3.141592653589793),
//       p("old_float", term_to_binary(1.5, [{minor_version, 0}])),
//       p("latin1_atom", term_to_binary(hello, [{minor_version, 1}])),
//       T("local_fun", fun(X) -> {X, Ref} end),
//       ok.
