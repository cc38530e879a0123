#include "wsgi/wsgi_state.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"
#include "wsgi/wsgi_response.hpp"

#include <iterator>

namespace pycnode::python::wsgi {
namespace {

// Keys most requests carry. Interned, so an application's literal
// (environ["PATH_INFO"]) finds them by pointer.
constexpr const char* known_keys[] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE",
    "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_HOST", "REMOTE_USER", "AUTH_TYPE", "REQUEST_URI", "RAW_URI",
    "HTTPS", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread",
    "wsgi.multiprocess", "wsgi.run_once", "wsgi.file_wrapper", "wsgi.input_terminated",
    "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_ACCEPT_LANGUAGE",
    "HTTP_ACCEPT_CHARSET", "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_CACHE_CONTROL", "HTTP_PRAGMA",
    "HTTP_REFERER", "HTTP_ORIGIN", "HTTP_AUTHORIZATION", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_NONE_MATCH",
    "HTTP_UPGRADE_INSECURE_REQUESTS", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP", "HTTP_X_REQUESTED_WITH", "HTTP_DNT",
};

// Values worth sharing: they recur in most requests and are short.
constexpr std::string_view common_values[] = {
    "", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "HTTP/1.0", "HTTP/1.1",
    "HTTP/2", "HTTP/2.0", "http", "https", "80", "443", "8080", "localhost", "/", "0",
};
constexpr std::size_t longest_common_value = 9;

PyRef decode_latin1(std::string_view text) {
    return PyRef::steal(PyUnicode_DecodeLatin1(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
}

PyRef attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? PyRef::steal(PyObject_GetAttrString(owner.get(), name)) : PyRef();
}

}  // namespace

static_assert(std::size(common_values) <= 20, "WsgiState::common_values_ is too small");

std::unique_ptr<WsgiState> WsgiState::create(WorkerContext&) {
    std::unique_ptr<WsgiState> state(new WsgiState());
    if (!state->load()) return nullptr;
    return state;
}

bool WsgiState::load() {
    for (const char* name : known_keys) {
        PyRef key = PyRef::steal(PyUnicode_InternFromString(name));
        if (!key) return false;
        keys_.emplace(name, std::move(key));
    }
    for (std::size_t i = 0; i < std::size(common_values); ++i)
        if (!(common_values_[i] = decode_latin1(common_values[i]))) return false;
    response_type_ = make_response_type();
    protocol_error_ = attribute("pyrunner.wsgi", "WSGIProtocolError");
    file_wrapper_ = attribute("pyrunner.wsgi", "FileWrapper");
    PyRef error_stream = attribute("pyrunner.wsgi", "ErrorStream");
    errors_ = error_stream ? PyRef::steal(PyObject_CallNoArgs(error_stream.get())) : PyRef();
    bytes_io_ = attribute("io", "BytesIO");
    version_1_0_ = PyRef::steal(Py_BuildValue("(ii)", 1, 0));
    name_close_ = PyRef::steal(PyUnicode_InternFromString("close"));
    name_read_all_ = PyRef::steal(PyUnicode_InternFromString("read_all"));
    name_flush_ = PyRef::steal(PyUnicode_InternFromString("flush"));
    return response_type_ && protocol_error_ && file_wrapper_ && errors_ && bytes_io_ && version_1_0_ &&
           name_close_ && name_read_all_ && name_flush_;
}

PyRef WsgiState::key(std::string_view latin1) {
    if (auto hit = keys_.find(latin1); hit != keys_.end()) return PyRef::borrow(hit->second.get());
    PyRef key = decode_latin1(latin1);
    if (key && keys_.size() < std::size(known_keys) + key_limit) keys_.emplace(latin1, PyRef::borrow(key.get()));
    return key;
}

PyRef WsgiState::value(std::string_view latin1) {
    if (latin1.size() <= longest_common_value)
        for (std::size_t i = 0; i < std::size(common_values); ++i)
            if (common_values[i] == latin1) return PyRef::borrow(common_values_[i].get());
    return decode_latin1(latin1);
}

void WsgiState::flush_errors() {
    PyRef done = PyRef::steal(PyObject_CallMethodNoArgs(errors_.get(), name_flush_.get()));
    if (!done) log::warning("wsgi.errors: flush() failed: {}", take_exception_text());
}

}  // namespace pycnode::python::wsgi
