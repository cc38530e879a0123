// The Opts of {call, Module, Function, Args, Opts} (and of call_method and
// getattr on a handle): keyword arguments, how terms map, and whether the
// result comes back as a handle (docs/protocol.md). `timeout` is read by the pool
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
    // `result => handle`: the result stays in Python, named by a handle
    // (handles.hpp); `result => term` (the default): converted.
    bool result_as_handle = false;
    // `owner => Pid`: the process that owns a handle result, instead of the
    // caller (a client that calls through a helper process names itself);
    // its external format, viewing the request.
    std::string_view owner;
};

// Empty when the request's Opts (if any, at `opts_at` in its tuple) are
// valid, else what is wrong. `kwargs` only where `with_kwargs`.
std::string read_call_options(const term::Term& request, CallOptions& out, std::size_t opts_at = 4,
                              bool with_kwargs = true);

}  // namespace pycnode::python
