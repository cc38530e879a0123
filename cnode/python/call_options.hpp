// The Opts of {call, Module, Function, Args, Opts}: keyword arguments and
// how terms map (docs/protocol.md). `timeout` is read by the pool
// (pool/deadline.hpp) before the call runs; every other key is read here.
#pragma once

#include "python/conversion.hpp"
#include "term/term.hpp"

#include <string>

namespace pycnode::python {

struct CallOptions {
    ConversionOptions conversion = call_conversion_defaults();
    // `kwargs`: a map, or a list of {Key, Value}; keys atoms or UTF-8 binaries.
    const term::Term* kwargs = nullptr;
};

// Empty when the request's Opts (if any) are valid, else what is wrong.
std::string read_call_options(const term::Term& request, CallOptions& out);

// The keyword pairs of `kwargs` as {key, value} term pointers, checked.
struct Keyword {
    std::string_view name;
    const term::Term* value;
};
std::string keyword_pairs(const term::Term& kwargs, std::vector<Keyword>& out);

}  // namespace pycnode::python
