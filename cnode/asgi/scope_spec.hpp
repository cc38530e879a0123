// The ASGI scope as the Erlang side sends it: checked, with its defaults
// filled in (docs/protocol.md, "The ASGI scope, from Erlang").
//
// Pure: no Python. Checking happens detached, before a worker attaches, so
// a malformed scope costs no Python time; scope_builder.cpp then turns a
// ScopeSpec into the scope dict.
#pragma once

#include "term/term.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pycnode::python {

// `server` or `client`: {Host, Port}, or absent (None in the scope).
struct ScopeEndpoint {
    bool present = false;
    std::string_view host;  // UTF-8
    std::int64_t port = 0;
};

// Every view points into the scope term it was parsed from.
struct ScopeSpec {
    std::string_view type = "http";
    const term::Term* asgi = nullptr;  // a checked map; null: {"version": "3.0", "spec_version": "2.3"}
    std::string_view http_version = "1.1";
    std::string_view method = "GET";   // as sent: upper-cased when built
    std::string_view scheme = "http";
    std::string_view path;             // as received, percent-encoded
    std::string_view raw_path;         // defaults to path
    std::string_view query_string;
    std::string_view root_path;
    const term::Term* headers = nullptr;     // a list of checked [Name, Value] / {Name, Value}
    ScopeEndpoint server;
    ScopeEndpoint client;
    const term::Term* state = nullptr;       // a map, converted as docs/terms.md says
    const term::Term* extensions = nullptr;  // a map with atom or binary keys
    // Keys the table does not name, passed through (key as str, value as
    // docs/terms.md says).
    std::vector<std::pair<std::string_view, const term::Term*>> extra;
};

// Fills `spec` from `scope` (a map with atom or binary keys). Empty on
// success, else what is wrong, for {error, {bad_request, Detail}}.
std::string parse_scope(const term::Term& scope, ScopeSpec& spec);

// The name and value of a checked header, from [Name, Value] or {Name, Value}.
inline std::pair<std::string_view, std::string_view> header_pair(const term::Term& header) {
    return {header.items[0].bytes, header.items[1].bytes};
}

// Percent-decoding as urllib.parse.unquote_to_bytes: "%XX" (either case)
// becomes one byte, any other '%' stays as it is. Appends to `out`.
void percent_decode(std::string_view in, std::string& out);

}  // namespace pycnode::python
