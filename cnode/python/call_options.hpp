// The Opts of {call, Module, Function, Args, Opts}: keyword arguments and
// how terms map (docs/protocol.md). `timeout` is read by the pool
// (pool/deadline.hpp) before the call runs; every other key is read here.
#pragma once

#include "python/conversion.hpp"
#include "term/term.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pycnode::python {

// One keyword argument: its name and its value, viewing the request.
struct Keyword {
    std::string_view name;
    const term::Term* value;
};

struct CallOptions {
    ConversionOptions conversion = call_conversion_defaults();
    // `kwargs`: a map, or a list of {Key, Value}; keys atoms or UTF-8 binaries.
    std::vector<Keyword> keywords;
};

// Empty when the request's Opts (if any) are valid, else what is wrong.
std::string read_call_options(const term::Term& request, CallOptions& out);

}  // namespace pycnode::python
