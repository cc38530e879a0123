// How deeply a request may nest, and the words for a caller whose request
// nests deeper.
//
// The depth limit (python/conversion.hpp, 512) is a limit on values: an
// argument, a keyword argument, a binding, a scope, a result, each counted
// from its own outermost level. A request wraps its values in a few levels
// of its own (`{call, M, F, [Arg]}` puts Arg at level 2, a keyword argument
// in a list of pairs inside Opts sits at level 4), so the worker decodes a
// request with that much more room: a value at the limit is accepted, and
// one past it is refused by the conversion, which names it. A request that
// is deeper still cannot be decoded at all (the decoder's bound is what
// keeps the stack safe); too_deep_detail() names the value all the same.
#pragma once

#include "python/conversion.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::pool {

inline constexpr std::size_t request_envelope_depth = 8;
inline constexpr std::size_t max_request_depth =
    static_cast<std::size_t>(python::max_conversion_depth) + request_envelope_depth;

// "argument 2: term nested deeper than 512 levels", or "keyword argument
// depth: ...", "scope: ...": what the decoder's `path` (term_reader.hpp)
// points at in `request`, named after `shape` (the request kind's, such as
// "{call, Module :: binary(), Function :: binary(), Args :: list()}").
std::string too_deep_detail(std::string_view request, std::string_view shape, const std::vector<std::size_t>& path);

}  // namespace pycnode::pool
