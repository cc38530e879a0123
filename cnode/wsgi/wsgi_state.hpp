// What the WSGI handler keeps per worker: environ keys as str (interned for
// the known ones), shared constant values, pyrunner.wsgi's objects, the
// response type and the environ templates.
//
// Owned by one WorkerContext (ctx.extension<WsgiState>(), made at the
// worker's first WSGI request), used by its thread only, so nothing here
// needs a lock, with or without the GIL. Every object is
// either immutable (str, tuple, types) or one of ours that is safe to share
// (the per-worker ErrorStream); the template dicts never leave the cache.
#pragma once

#include "python/py_ref.hpp"
#include "python/worker_context.hpp"
#include "wsgi/wsgi_template.hpp"

#include <memory>
#include <string_view>

namespace pycnode::python::wsgi {

class WsgiState : public WorkerExtension {
public:
    // Attached only. Null with a Python exception set if pyrunner.wsgi or
    // io cannot be loaded.
    static std::unique_ptr<WsgiState> create(WorkerContext& ctx);
    ~WsgiState() override = default;  // attached only: it drops Python references
    WsgiState(const WsgiState&) = delete;
    WsgiState& operator=(const WsgiState&) = delete;

    // An environ key (latin-1 bytes) as str: the same object every time for
    // known keys and, up to a bound, for others. Null with an exception set.
    PyRef key(std::string_view latin1);
    // A CGI value as str: a shared constant for common ones (methods,
    // protocols, schemes, ""), else a new str. Null with an exception set.
    PyRef value(std::string_view latin1);

    PyObject* response_type() const { return response_type_.get(); }
    PyObject* protocol_error() const { return protocol_error_.get(); }  // pyrunner.wsgi.WSGIProtocolError
    PyObject* bytes_io() const { return bytes_io_.get(); }              // io.BytesIO
    PyObject* file_wrapper() const { return file_wrapper_.get(); }      // pyrunner.wsgi.FileWrapper
    PyObject* errors() const { return errors_.get(); }                  // this worker's ErrorStream
    PyObject* version_1_0() const { return version_1_0_.get(); }
    PyObject* name_close() const { return name_close_.get(); }
    PyObject* name_read_all() const { return name_read_all_.get(); }

    EnvironTemplates& templates() { return templates_; }

    // Logs what the application left in wsgi.errors without a newline, so
    // it does not run into the next request's output.
    void flush_errors();

private:
    WsgiState() = default;
    bool load();

    // Keys from peers: past this many distinct ones, new keys are decoded
    // per request instead of cached.
    static constexpr std::size_t key_limit = 512;

    StringMap<PyRef> keys_;
    PyRef common_values_[20];
    PyRef response_type_, protocol_error_, bytes_io_, file_wrapper_, errors_, version_1_0_;
    PyRef name_close_, name_read_all_, name_flush_;
    EnvironTemplates templates_;
};

}  // namespace pycnode::python::wsgi
