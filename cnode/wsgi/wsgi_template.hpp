// Per-worker environ templates: for each distinct server set-up, a dict of
// every environ entry that does not depend on the request. A request's
// environ starts as a copy of its template (one PyDict_Copy) instead of a
// dozen insertions and string decodings.
//
// A template is keyed on EVERY field that goes into it (TemplateFields), so a
// request never sees another request's server name, port, protocol, script
// name, scheme or flags. Everything else in a template is a constant.
#pragma once

#include "python/py_ref.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pycnode::python::wsgi {

class WsgiState;

// The request-independent fields, with the defaults already applied.
struct TemplateFields {
    std::string_view server_name = "localhost";
    std::string_view server_port = "80";  // "443" by default for https
    std::string_view server_protocol = "HTTP/1.1";
    std::string_view script_name;
    std::string_view url_scheme = "http";
    bool multithread = true;
    bool multiprocess = true;
    bool run_once = false;
};

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

class EnvironTemplates {
public:
    // Past this many distinct set-ups the cache starts over: a server has a
    // handful, so only a peer sending random values would get there.
    static constexpr std::size_t limit = 64;

    // Attached only. The template for `fields`: a dict that stays private to
    // the cache (callers copy it). Null with an exception set on failure.
    PyRef get(WsgiState& state, const TemplateFields& fields);

    std::size_t size() const { return templates_.size(); }

private:
    void encode_key(const TemplateFields& fields);

    StringMap<PyRef> templates_;
    std::string key_;  // reused, so a hit allocates nothing
};

}  // namespace pycnode::python::wsgi
