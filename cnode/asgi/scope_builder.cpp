#include "asgi/scope_builder.hpp"

#include "asgi/scope_values.hpp"
#include "python/errors.hpp"
#include "python/to_python.hpp"
#include "python/worker_context.hpp"
#include "term/term_writer.hpp"

#include <fmt/format.h>

#include <cstring>

namespace pycnode::python {
namespace {

using term::Term;

constexpr const char* key_names[] = {"type", "asgi", "http_version", "method", "scheme", "path", "raw_path",
                                     "query_string", "root_path", "headers", "client", "server", "state",
                                     "extensions"};

// Values most scopes share: one object per worker instead of one per request.
constexpr std::string_view shared_texts[] = {
    "http", "https", "ws", "wss", "1.0", "1.1", "2", "3.0", "2.3", "",
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};

constexpr std::string_view shared_header_names[] = {
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
    "content-type", "content-length", "cookie", "cache-control", "pragma", "referer", "origin",
    "authorization", "upgrade-insecure-requests", "upgrade", "te", "dnt", "transfer-encoding",
    "if-none-match", "if-modified-since", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    "x-real-ip", "x-request-id", "x-requested-with", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
    "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"};

PyRef new_bytes(std::string_view raw) {
    return PyRef::steal(PyBytes_FromStringAndSize(raw.data(), static_cast<Py_ssize_t>(raw.size())));
}

PyRef new_text(std::string_view utf8, const char* errors = nullptr) {
    return PyRef::steal(PyUnicode_DecodeUTF8(utf8.data(), static_cast<Py_ssize_t>(utf8.size()), errors));
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }

// Length-prefixed, so no two different field lists give the same key.
void append_field(std::string& key, std::string_view field) {
    auto size = static_cast<std::uint32_t>(field.size());
    key.append(reinterpret_cast<const char*>(&size), sizeof size);
    key.append(field);
}

bool set_item(PyObject* dict, const PyRef& key, PyRef value) {
    return value && PyDict_SetItem(dict, key.get(), value.get()) == 0;
}

}  // namespace

std::unique_ptr<ScopeBuilder> ScopeBuilder::create() {
    std::unique_ptr<ScopeBuilder> builder(new ScopeBuilder());
    if (!builder->load()) return nullptr;
    return builder;
}

bool ScopeBuilder::load() {
    for (int k = 0; k < KeyCount; ++k)
        if (!(keys_[k] = PyRef::steal(PyUnicode_InternFromString(key_names[k])))) return false;
    for (std::string_view text : shared_texts) {
        PyRef value = new_text(text);
        if (!value) return false;
        PyObject* interned = value.release();
        PyUnicode_InternInPlace(&interned);  // apps compare them with literals
        texts_.emplace_back(text, PyRef::steal(interned));
    }
    for (std::string_view name : shared_header_names)
        if (!(header_names_[name] = new_bytes(name))) return false;
    empty_bytes_ = new_bytes({});
    version_key_ = PyRef::steal(PyUnicode_InternFromString("version"));
    spec_version_key_ = PyRef::steal(PyUnicode_InternFromString("spec_version"));
    return empty_bytes_ && version_key_ && spec_version_key_;
}

PyRef ScopeBuilder::build(WorkerContext& ctx, const ScopeSpec& spec, PyObject* lifespan_state, std::string& error) {
    const ScopeTemplate* templ = template_for(ctx, spec, error);
    PyRef scope = templ ? PyRef::steal(PyDict_Copy(templ->scope.get())) : PyRef();
    if (scope && set_item(scope.get(), keys_[Asgi], PyRef::steal(PyDict_Copy(templ->asgi.get()))) &&
        set_request_fields(ctx, scope.get(), spec, lifespan_state, error))
        return scope;
    if (error.empty()) error = fmt::format("cannot build the scope: {}", take_exception_text());
    PyErr_Clear();
    return {};
}

const ScopeTemplate* ScopeBuilder::template_for(WorkerContext& ctx, const ScopeSpec& spec, std::string& error) {
    std::string& key = scratch_;
    key.clear();
    for (std::string_view field : {spec.type, spec.http_version, spec.scheme, spec.root_path}) append_field(key, field);
    const char server_present = spec.server.present ? 1 : 0;
    append_field(key, std::string_view(&server_present, 1));
    append_field(key, spec.server.host);
    append_field(key, std::string_view(reinterpret_cast<const char*>(&spec.server.port), sizeof spec.server.port));
    std::size_t asgi_at = key.size();
    if (spec.asgi) term::TermWriter(key).term(*spec.asgi);  // its exact encoding, whatever it holds
    auto asgi_size = static_cast<std::uint32_t>(key.size() - asgi_at);
    key.append(reinterpret_cast<const char*>(&asgi_size), sizeof asgi_size);
    if (const ScopeTemplate* hit = templates_.find(key)) return hit;

    std::string stored_key = key;  // building the template reuses the scratch buffer
    ScopeTemplate entry;
    if (!make_template(ctx, spec, entry, error)) return nullptr;
    return templates_.insert(stored_key, std::move(entry));
}

bool ScopeBuilder::make_template(WorkerContext& ctx, const ScopeSpec& spec, ScopeTemplate& out, std::string& error) {
    if (spec.asgi) {
        out.asgi = text_term_to_python(ctx, *spec.asgi, error);
    } else {
        out.asgi = PyRef::steal(PyDict_New());
        if (out.asgi && (!set_item(out.asgi.get(), version_key_, text("3.0")) ||
                         !set_item(out.asgi.get(), spec_version_key_, text("2.3"))))
            out.asgi.reset();
    }
    out.scope = PyRef::steal(PyDict_New());
    if (!out.asgi || !out.scope) return false;
    PyObject* scope = out.scope.get();
    // Every key, in a fixed order: the per-request ones hold None until set.
    for (int k = 0; k < KeyCount; ++k)
        if (PyDict_SetItem(scope, keys_[k].get(), Py_None) < 0) return false;
    return set_item(scope, keys_[Type], text(spec.type)) &&
           set_item(scope, keys_[HttpVersion], text(spec.http_version)) &&
           set_item(scope, keys_[Scheme], text(spec.scheme)) && set_item(scope, keys_[RootPath], text(spec.root_path)) &&
           (!spec.server.present || set_item(scope, keys_[Server], endpoint(spec.server)));
}

bool ScopeBuilder::set_request_fields(WorkerContext& ctx, PyObject* scope, const ScopeSpec& spec,
                                      PyObject* lifespan_state, std::string& error) {
    bool ok = set_item(scope, keys_[Method], method(spec.method)) && set_item(scope, keys_[Path], path(spec.path)) &&
              set_item(scope, keys_[RawPath], bytes(spec.raw_path)) &&
              set_item(scope, keys_[QueryString], bytes(spec.query_string)) &&
              set_item(scope, keys_[Headers], headers(spec.headers)) &&
              (!spec.client.present || set_item(scope, keys_[Client], endpoint(spec.client)));
    if (!ok) return false;
    if (!set_item(scope, keys_[State], state(ctx, spec.state, lifespan_state, error))) return false;
    PyRef extensions = spec.extensions ? text_term_to_python(ctx, *spec.extensions, error) : PyRef::steal(PyDict_New());
    if (!set_item(scope, keys_[Extensions], std::move(extensions))) return false;
    for (const auto& [name, value] : spec.extra) {
        PyRef key = new_text(name);
        PyRef converted;
        if (auto status = to_python(ctx, *value, converted); !status) {
            error = fmt::format("scope: {}: {}", name, status.detail());
            return false;
        }
        if (!key || PyDict_SetItem(scope, key.get(), converted.get()) < 0) return false;
    }
    return true;
}

PyRef ScopeBuilder::text(std::string_view utf8) {
    for (const auto& [value, object] : texts_)
        if (value == utf8) return PyRef::borrow(object.get());
    return new_text(utf8);
}

PyRef ScopeBuilder::bytes(std::string_view raw) {
    return raw.empty() ? PyRef::borrow(empty_bytes_.get()) : new_bytes(raw);
}

PyRef ScopeBuilder::method(std::string_view sent) {
    scratch_.assign(sent);
    for (char& c : scratch_) c = ascii_upper(c);
    return text(scratch_);
}

// Percent-decoded, then UTF-8 with 'replace', as uvicorn's unquote does.
PyRef ScopeBuilder::path(std::string_view encoded) {
    if (std::memchr(encoded.data(), '%', encoded.size()) == nullptr) return new_text(encoded, "replace");
    scratch_.clear();
    percent_decode(encoded, scratch_);
    return new_text(scratch_, "replace");
}

PyRef ScopeBuilder::header_name(std::string_view sent) {
    scratch_.assign(sent);
    for (char& c : scratch_) c = ascii_lower(c);
    if (auto hit = header_names_.find(scratch_); hit != header_names_.end()) return PyRef::borrow(hit->second.get());
    return new_bytes(scratch_);
}

// A fresh list of fresh [name, value] lists: apps may change them.
PyRef ScopeBuilder::headers(const Term* list) {
    std::size_t count = list ? list->items.size() : 0;
    PyRef out = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(count)));
    for (std::size_t i = 0; out && i < count; ++i) {
        auto [name, value] = header_pair(list->items[i]);
        PyRef pair = PyRef::steal(PyList_New(2));
        PyRef name_bytes = header_name(name);
        PyRef value_bytes = bytes(value);
        if (!pair || !name_bytes || !value_bytes) return {};
        PyList_SET_ITEM(pair.get(), 0, name_bytes.release());
        PyList_SET_ITEM(pair.get(), 1, value_bytes.release());
        PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), pair.release());
    }
    return out;
}

PyRef ScopeBuilder::endpoint(const ScopeEndpoint& endpoint) {
    PyRef host = text(endpoint.host);
    PyRef port = PyRef::steal(PyLong_FromLongLong(endpoint.port));
    return host && port ? PyRef::steal(PyTuple_Pack(2, host.get(), port.get())) : PyRef();
}

// A shallow copy of the lifespan state, updated with the scope's own.
PyRef ScopeBuilder::state(WorkerContext& ctx, const Term* map, PyObject* lifespan_state, std::string& error) {
    PyRef out = PyRef::steal(lifespan_state ? PyDict_Copy(lifespan_state) : PyDict_New());
    if (!out || !map) return out;
    PyRef own;
    if (auto status = to_python(ctx, *map, own); !status) {
        error = "scope: state: " + status.detail();
        return {};
    }
    return PyDict_Update(out.get(), own.get()) == 0 ? std::move(out) : PyRef();
}

}  // namespace pycnode::python
