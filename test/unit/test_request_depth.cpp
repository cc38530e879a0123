// pool/request_depth: values may nest to the limit inside any request, and a
// request too deep to decode is refused with the value named.
#include "pool/request_depth.hpp"

#include "term_testing.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pycnode::term;
using pycnode::pool::max_request_depth;
using pycnode::pool::too_deep_detail;

namespace {

constexpr std::string_view call_shape =
    "{call, Module :: binary(), Function :: binary(), Args :: list(), Opts :: map()}";
constexpr std::string_view asgi_shape =
    "{asgi, Module :: binary(), Callable :: binary(), Scope :: map() | reference(), Body :: binary(), Opts :: map()}";

// `levels` lists around 0: the 0 is at level `levels`.
Term nested(std::size_t levels) {
    Term t = Term::make_integer(0);
    for (std::size_t i = 0; i < levels; ++i) t = Term::make_list({std::move(t)});
    return t;
}

Term call(Term args, Term opts) {
    return Term::tuple_of(Term::make_atom("call"), Term::make_binary("m"), Term::make_binary("f"), std::move(args),
                          std::move(opts));
}

Term kwargs_map(std::string_view key, Term value) {
    return Term::make_map({Term::make_atom("kwargs"), Term::make_map({Term::make_atom(key), std::move(value)})});
}

Term kwargs_pairs(std::string_view key, Term value) {
    return Term::make_map({Term::make_atom("kwargs"),
                           Term::make_list({Term::tuple_of(Term::make_binary(key), std::move(value))})});
}

// What the worker answers: "decoded", or the detail of its refusal.
std::string refusal(const Term& request, std::string_view shape) {
    std::string bytes = term_testing::encode(request).substr(1);  // a gen_call's Request has no 131
    Term out;
    std::vector<std::size_t> path;
    DecodeError err = TermReader::read_whole(bytes, out, max_request_depth, &path);
    if (err == DecodeError::Ok) return "decoded";
    REQUIRE(err == DecodeError::TooDeep);
    return too_deep_detail(bytes, shape, path);
}

}  // namespace

TEST_CASE("a value at the depth limit decodes inside any request") {
    const std::size_t limit = pycnode::python::max_conversion_depth;
    CHECK(refusal(call(Term::make_list({nested(limit)}), kwargs_pairs("k", nested(limit))), call_shape) == "decoded");
    CHECK(refusal(call(Term::make_list({}), kwargs_map("k", nested(limit))), call_shape) == "decoded");
}

TEST_CASE("a request too deep to decode names the value") {
    for (std::size_t depth : {600, 5000}) {
        CAPTURE(depth);
        Term one = Term::make_integer(1);
        CHECK(refusal(call(Term::make_list({one, nested(depth)}), Term::make_map({})), call_shape) ==
              "argument 2: term nested deeper than 512 levels");
        CHECK(refusal(call(Term::make_list({}), kwargs_map("x", nested(depth))), call_shape) ==
              "keyword argument x: term nested deeper than 512 levels");
        CHECK(refusal(call(Term::make_list({}), kwargs_pairs("y", nested(depth))), call_shape) ==
              "keyword argument y: term nested deeper than 512 levels");
        Term opts = Term::make_map({Term::make_atom("timeout"), one, Term::make_atom("other"), nested(depth)});
        CHECK(refusal(call(Term::make_list({}), opts), call_shape) == "option other: term nested deeper than 512 levels");
        Term asgi = Term::tuple_of(Term::make_atom("asgi"), Term::make_binary("m"), Term::make_binary("app"),
                                   Term::make_map({Term::make_atom("path"), nested(depth)}), Term::make_binary(""),
                                   Term::make_map({}));
        CHECK(refusal(asgi, asgi_shape) == "scope: term nested deeper than 512 levels");
        CHECK(refusal(asgi, "") == "request: term nested deeper than 512 levels");
    }
}
