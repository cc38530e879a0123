#include "wsgi/wsgi_environ.hpp"

#include "python/errors.hpp"
#include "python/to_python.hpp"
#include "wsgi/wsgi_state.hpp"

#include <fmt/format.h>

#include <optional>

namespace pycnode::python::wsgi {
namespace {

using term::Kind;
using term::Term;

// Keys arrive from peers: in a detail they are shown escaped and cut short.
std::string printable(std::string_view key) {
    constexpr std::size_t shown = 100;
    std::string out;
    for (unsigned char c : key.substr(0, shown)) {
        if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
        else out += fmt::format("\\x{:02x}", c);
    }
    if (key.size() > shown) out += "...";
    return out;
}

// How much of the body wsgi.input lets the application read: up to
// CONTENT_LENGTH when that is a plain decimal number, else all of it.
std::size_t readable(std::string_view body, std::optional<std::string_view> content_length) {
    if (!content_length || content_length->empty() || content_length->size() > 18) return body.size();
    std::size_t n = 0;
    for (char c : *content_length) {
        if (c < '0' || c > '9') return body.size();
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    return n < body.size() ? n : body.size();
}

// One pass over the map, sorting each entry to its place in the plan.
class Planner {
public:
    explicit Planner(EnvironPlan& plan) : plan_(plan) {}

    std::string add(const Term& key, const Term& value);
    void finish();

private:
    std::string cgi(std::string_view key, std::string_view value);
    std::string wsgi(std::string_view key, const Term& value);
    std::string flag(std::string_view key, const Term& value, bool& out);
    std::string version(const Term& value);

    EnvironPlan& plan_;
    std::string_view body_;
    std::optional<std::string_view> content_type_, content_length_;
    std::optional<std::string_view> http_content_type_, http_content_length_;
    bool port_given_ = false;
};

std::string Planner::add(const Term& key, const Term& value) {
    if (key.kind != Kind::Binary || key.bytes.empty()) return "environ keys must be non-empty binaries";
    std::string_view name = key.bytes;
    if (name.find('.') == std::string_view::npos) {
        if (value.kind != Kind::Binary) return fmt::format("environ {} must be a binary (a CGI value)", printable(name));
        return cgi(name, value.bytes);
    }
    if (name.starts_with("wsgi.")) return wsgi(name, value);
    plan_.extensions.push_back({name, &value});
    return {};
}

std::string Planner::cgi(std::string_view key, std::string_view value) {
    bool never_empty = key == "REQUEST_METHOD" || key == "SERVER_NAME" || key == "SERVER_PORT";
    if (never_empty && value.empty()) return fmt::format("environ {} must not be empty", key);
    if (key == "SERVER_NAME") plan_.fields.server_name = value;
    else if (key == "SERVER_PORT") plan_.fields.server_port = value, port_given_ = true;
    else if (key == "SERVER_PROTOCOL") plan_.fields.server_protocol = value;
    else if (key == "SCRIPT_NAME") plan_.fields.script_name = value;
    else if (key == "HTTP_CONTENT_TYPE") http_content_type_ = value;
    else if (key == "HTTP_CONTENT_LENGTH") http_content_length_ = value;
    else {
        if (key == "CONTENT_TYPE") content_type_ = value;
        if (key == "CONTENT_LENGTH") content_length_ = value;
        plan_.cgi.push_back({key, value});
    }
    return {};
}

std::string Planner::wsgi(std::string_view key, const Term& value) {
    if (key == "wsgi.input") {
        if (value.kind != Kind::Binary) return "environ wsgi.input must be a binary (the request body)";
        body_ = value.bytes;
    } else if (key == "wsgi.url_scheme") {
        if (value.kind != Kind::Binary || value.bytes.empty())
            return "environ wsgi.url_scheme must be a non-empty binary";
        plan_.fields.url_scheme = value.bytes;
    } else if (key == "wsgi.multithread") {
        return flag(key, value, plan_.fields.multithread);
    } else if (key == "wsgi.multiprocess") {
        return flag(key, value, plan_.fields.multiprocess);
    } else if (key == "wsgi.run_once") {
        return flag(key, value, plan_.fields.run_once);
    } else if (key == "wsgi.version") {
        return version(value);
    } else if (key != "wsgi.errors" && key != "wsgi.file_wrapper") {  // those two are always pycnode's
        plan_.extensions.push_back({key, &value});
    }
    return {};
}

std::string Planner::flag(std::string_view key, const Term& value, bool& out) {
    if (!value.is_atom("true") && !value.is_atom("false")) return fmt::format("environ {} must be true or false", key);
    out = value.is_atom("true");
    return {};
}

std::string Planner::version(const Term& value) {
    bool pair = value.kind == Kind::Tuple && value.items.size() == 2 && value.items[0].kind == Kind::Integer &&
                value.items[1].kind == Kind::Integer;
    if (!pair) return "environ wsgi.version must be a tuple of two integers, like {1, 0}";
    bool default_version = value.items[0].integer == 1 && value.items[1].integer == 0;
    plan_.version = default_version ? nullptr : &value;
    return {};
}

void Planner::finish() {
    if (!content_type_ && http_content_type_) plan_.cgi.push_back({"CONTENT_TYPE", *http_content_type_});
    if (!content_length_ && http_content_length_) {
        content_length_ = http_content_length_;
        plan_.cgi.push_back({"CONTENT_LENGTH", *content_length_});
    }
    if (!port_given_ && plan_.fields.url_scheme == "https") plan_.fields.server_port = "443";
    plan_.input = body_.substr(0, readable(body_, content_length_));
    plan_.add_content_length = !content_length_ && !body_.empty();
}

bool set(PyObject* dict, const PyRef& key, const PyRef& value) {
    return key && value && PyDict_SetItem(dict, key.get(), value.get()) == 0;
}

bool set_cgi(WsgiState& state, PyObject* environ, const EnvironPlan& plan) {
    for (const CgiItem& item : plan.cgi)
        if (!set(environ, state.key(item.key), state.value(item.value))) return false;
    if (!plan.add_content_length) return true;
    PyRef size = PyRef::steal(PyUnicode_FromFormat("%zu", plan.input.size()));
    return set(environ, state.key("CONTENT_LENGTH"), size);
}

// An io.BytesIO over its own bytes object: BytesIO shares it rather than
// copying, and gives read(n), read(), readline(n), readlines(hint) and
// iteration in C.
bool set_input(WsgiState& state, PyObject* environ, const EnvironPlan& plan) {
    PyRef body = PyRef::steal(PyBytes_FromStringAndSize(plan.input.data(), static_cast<Py_ssize_t>(plan.input.size())));
    if (!body) return false;
    PyObject* args[] = {nullptr, body.get()};
    PyRef stream =
        PyRef::steal(PyObject_Vectorcall(state.bytes_io(), args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
    return set(environ, state.key("wsgi.input"), stream);
}

bool set_converted(WorkerContext& ctx, WsgiState& state, PyObject* environ, std::string_view key, const Term& value,
                   std::string& problem) {
    PyRef converted;
    if (auto status = to_python(ctx, value, converted); !status) {
        problem = fmt::format("environ {}: {}", printable(key), status.detail());
        return false;
    }
    if (set(environ, state.key(key), converted)) return true;
    problem = fmt::format("environ {}: {}", printable(key), take_exception_text());
    return false;
}

}  // namespace

std::string plan_environ(const term::Term& environ, EnvironPlan& plan) {
    if (environ.kind != Kind::Map) return "Environ must be a map with binary keys";
    plan.cgi.reserve(environ.items.size() / 2);
    Planner planner(plan);
    for (std::size_t i = 0; i + 1 < environ.items.size(); i += 2)
        if (std::string problem = planner.add(environ.items[i], environ.items[i + 1]); !problem.empty())
            return problem;
    planner.finish();
    return {};
}

PyRef build_environ(WorkerContext& ctx, WsgiState& state, const EnvironPlan& plan, std::string& problem) {
    PyRef base = state.templates().get(state, plan.fields);
    PyRef environ = base ? PyRef::steal(PyDict_Copy(base.get())) : PyRef();
    if (!environ || !set_cgi(state, environ.get(), plan) || !set_input(state, environ.get(), plan)) {
        problem = "cannot build the environ: " + take_exception_text();
        return {};
    }
    if (plan.version && !set_converted(ctx, state, environ.get(), "wsgi.version", *plan.version, problem)) return {};
    for (const ExtensionItem& item : plan.extensions)
        if (!set_converted(ctx, state, environ.get(), item.key, *item.value, problem)) return {};
    return environ;
}

}  // namespace pycnode::python::wsgi
