// The WSGI environ, from the Erlang map of docs/protocol.md, in two passes:
//
//  1. plan_environ, detached: checks every key and value and sorts them into
//     template fields, the request's own CGI strings, wsgi.* settings and
//     extension keys. A malformed environ costs no Python time.
//  2. build_environ, attached: a copy of the worker's template for the
//     plan's TemplateFields, then the request's own entries and wsgi.input.
//
// Rules (PEP 3333):
// - A key without a dot is a CGI variable: its value must be a binary and
//   becomes a str decoded as latin-1 (U+0000..U+00FF). Keys are decoded as
//   latin-1 too.
// - REQUEST_METHOD (default GET), SERVER_NAME (default localhost) and
//   SERVER_PORT (default 80, or 443 for https) are never empty: an empty one
//   is a bad request. SCRIPT_NAME, PATH_INFO and QUERY_STRING default to "",
//   SERVER_PROTOCOL to HTTP/1.1; other CGI keys are passed as given (absent
//   stays absent, empty stays empty).
// - HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH become CONTENT_TYPE /
//   CONTENT_LENGTH when those are absent, and are dropped otherwise: a WSGI
//   environ never has them.
// - wsgi.input (a binary, default empty) becomes an io.BytesIO that ends at
//   CONTENT_LENGTH when that is a decimal number smaller than the body, else
//   at the end of the body. Without CONTENT_LENGTH a non-empty body gets
//   one, its size: the whole body is known, and frameworks (Django) read no
//   body without it.
// - wsgi.url_scheme (binary, default http), wsgi.version (a tuple of two
//   integers, default {1, 0}), wsgi.multithread and wsgi.multiprocess
//   (booleans, default true), wsgi.run_once (default false). wsgi.errors and
//   wsgi.file_wrapper are always pycnode's (a value given for them is
//   ignored); wsgi.input_terminated is True.
// - Other dotted keys are converted as docs/terms.md says.
#pragma once

#include "python/py_ref.hpp"
#include "term/term.hpp"
#include "wsgi/wsgi_template.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pycnode::python {
class WorkerContext;
}

namespace pycnode::python::wsgi {

class WsgiState;

struct CgiItem {
    std::string_view key, value;  // latin-1 bytes, viewing the request
};

struct ExtensionItem {
    std::string_view key;
    const term::Term* value;
};

struct EnvironPlan {
    TemplateFields fields;
    std::vector<CgiItem> cgi;  // the request's own CGI strings
    std::vector<ExtensionItem> extensions;
    const term::Term* version = nullptr;  // wsgi.version, when not {1, 0}
    std::string_view input;               // what wsgi.input reads
    bool add_content_length = false;      // CONTENT_LENGTH absent, body not empty
};

// Detached (no Python). "" when `environ` is a well-formed environ map, then
// `plan` views its bytes; else the bad_request detail.
std::string plan_environ(const term::Term& environ, EnvironPlan& plan);

// Attached only. The environ dict; empty with `problem` set (a bad_request
// detail) if an extension value cannot be converted or Python fails.
PyRef build_environ(WorkerContext& ctx, WsgiState& state, const EnvironPlan& plan, std::string& problem);

}  // namespace pycnode::python::wsgi
