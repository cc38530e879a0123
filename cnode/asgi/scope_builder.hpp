// The ASGI scope dict of one request, built from a checked ScopeSpec with
// the types of docs/protocol.md: str for type, http_version, method (upper-
// cased), scheme, path (percent-decoded, UTF-8 with 'replace') and
// root_path; bytes for raw_path, query_string and header names (lower-
// cased) and values; (str, int) tuples for server and client.
//
// Per worker, and attached only: keys are interned once, common values
// (methods, HTTP versions, schemes, header names, b"") are shared objects,
// and the request-independent fields come from a template (scope_templates
// .hpp). Everything mutable a request gets is its own: the scope dict, its
// headers list and pairs, "asgi", "state" (a copy of the lifespan state
// updated with the scope's), "extensions".
#pragma once

#include "asgi/scope_spec.hpp"
#include "asgi/scope_templates.hpp"
#include "python/py_ref.hpp"

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pycnode::python {

class WorkerContext;

class ScopeBuilder {
public:
    // Attached only. Null with a Python exception set on failure.
    static std::unique_ptr<ScopeBuilder> create();

    // Attached only. `lifespan_state` is the app's lifespan state dict, or
    // null. Empty with `error` set (and no exception) when a value cannot
    // be converted.
    PyRef build(WorkerContext& ctx, const ScopeSpec& spec, PyObject* lifespan_state, std::string& error);

private:
    enum Key { Type, Asgi, HttpVersion, Method, Scheme, Path, RawPath, QueryString, RootPath, Headers,
               Client, Server, State, Extensions, KeyCount };
    using Shared = std::vector<std::pair<std::string_view, PyRef>>;

    ScopeBuilder() = default;
    bool load();

    const ScopeTemplate* template_for(WorkerContext& ctx, const ScopeSpec& spec, std::string& error);
    bool make_template(WorkerContext& ctx, const ScopeSpec& spec, ScopeTemplate& out, std::string& error);
    bool set_request_fields(WorkerContext& ctx, PyObject* scope, const ScopeSpec& spec, PyObject* lifespan_state,
                            std::string& error);
    PyRef text(std::string_view utf8);  // a shared constant when there is one
    PyRef bytes(std::string_view raw);
    PyRef method(std::string_view sent);
    PyRef path(std::string_view encoded);
    PyRef headers(const term::Term* list);
    PyRef header_name(std::string_view sent);
    PyRef endpoint(const ScopeEndpoint& endpoint);
    PyRef state(WorkerContext& ctx, const term::Term* map, PyObject* lifespan_state, std::string& error);

    std::array<PyRef, KeyCount> keys_;
    Shared texts_;     // methods, versions, schemes, "http", "3.0", "2.3", ""...
    std::unordered_map<std::string_view, PyRef> header_names_;  // views static literals
    PyRef empty_bytes_;
    PyRef version_key_, spec_version_key_;
    ScopeTemplates templates_;
    std::string scratch_;  // reused: template keys, lower/upper-casing, percent-decoding
};

}  // namespace pycnode::python
