#include "wsgi/wsgi_template.hpp"

#include "wsgi/wsgi_state.hpp"

#include <cstdint>

namespace pycnode::python::wsgi {
namespace {

void append_field(std::string& key, std::string_view field) {
    auto size = static_cast<std::uint32_t>(field.size());
    key.append(reinterpret_cast<const char*>(&size), sizeof size);
    key.append(field);
}

bool set(PyObject* dict, PyRef key, PyRef value) {
    return key && value && PyDict_SetItem(dict, key.get(), value.get()) == 0;
}

bool set(WsgiState& state, PyObject* dict, std::string_view key, PyRef value) {
    return set(dict, state.key(key), std::move(value));
}

PyRef boolean(bool value) { return PyRef::borrow(value ? Py_True : Py_False); }

// Everything but wsgi.input (and the request's own keys). REQUEST_METHOD,
// PATH_INFO and QUERY_STRING hold their defaults until a request sets them.
PyRef build(WsgiState& state, const TemplateFields& f) {
    PyRef dict = PyRef::steal(PyDict_New());
    PyObject* d = dict.get();
    bool ok = d && set(state, d, "REQUEST_METHOD", state.value("GET")) &&
              set(state, d, "SCRIPT_NAME", state.value(f.script_name)) &&
              set(state, d, "PATH_INFO", state.value("")) && set(state, d, "QUERY_STRING", state.value("")) &&
              set(state, d, "SERVER_NAME", state.value(f.server_name)) &&
              set(state, d, "SERVER_PORT", state.value(f.server_port)) &&
              set(state, d, "SERVER_PROTOCOL", state.value(f.server_protocol)) &&
              set(state, d, "wsgi.version", PyRef::borrow(state.version_1_0())) &&
              set(state, d, "wsgi.url_scheme", state.value(f.url_scheme)) &&
              set(state, d, "wsgi.errors", PyRef::borrow(state.errors())) &&
              set(state, d, "wsgi.file_wrapper", PyRef::borrow(state.file_wrapper())) &&
              set(state, d, "wsgi.multithread", boolean(f.multithread)) &&
              set(state, d, "wsgi.multiprocess", boolean(f.multiprocess)) &&
              set(state, d, "wsgi.run_once", boolean(f.run_once)) &&
              // The body is all there: reading to EOF is safe, CONTENT_LENGTH or not.
              set(state, d, "wsgi.input_terminated", boolean(true));
    return ok ? std::move(dict) : PyRef();
}

}  // namespace

// Each field length-prefixed, so no two different set-ups share a key.
void EnvironTemplates::encode_key(const TemplateFields& f) {
    key_.clear();
    append_field(key_, f.server_name);
    append_field(key_, f.server_port);
    append_field(key_, f.server_protocol);
    append_field(key_, f.script_name);
    append_field(key_, f.url_scheme);
    key_.push_back(static_cast<char>(f.multithread | f.multiprocess << 1 | f.run_once << 2));
}

PyRef EnvironTemplates::get(WsgiState& state, const TemplateFields& fields) {
    encode_key(fields);
    if (auto hit = templates_.find(key_); hit != templates_.end()) return PyRef::borrow(hit->second.get());
    PyRef made = build(state, fields);
    if (!made) return {};
    if (templates_.size() >= limit) templates_.clear();
    templates_.emplace(key_, PyRef::borrow(made.get()));
    return made;
}

}  // namespace pycnode::python::wsgi
