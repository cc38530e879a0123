// One WSGI response as it is produced: the object behind start_response and
// write, and what they gather (status, headers, body, and the first breach
// of PEP 3333).
//
// It is a small Python object (type pycnode.WsgiResponse) so that the
// application can hold start_response and write for as long as it likes;
// start_response and write are built-in methods bound to it. Its state is
// plain C++ (no Python references to the app's objects), changed only
// inside a per-object critical section, so a write from another thread, even
// after the request is over, is safe on a free-threaded build.
#pragma once

#include "python/py_ref.hpp"
#include "wsgi/wsgi_headers.hpp"

#include <string>
#include <vector>

namespace pycnode::python::wsgi {

// What a finished response hands to the reply.
struct ResponseParts {
    std::string status;  // latin-1 bytes of the status line, as given
    std::vector<Header> headers;
    std::string body;
};

// Attached only. The response type for one worker; null with an exception set on failure.
PyRef make_response_type();

// Attached only. A fresh response whose breaches raise `protocol_error`
// (pyrunner.wsgi.WSGIProtocolError) in the application.
PyRef new_response(PyObject* response_type, PyObject* protocol_error);

// Attached only. The start_response callable bound to `response`.
PyRef start_response_of(PyObject* response);

// Attached only. Adds one item of the application's result to the body.
// False when the item breaks PEP 3333 (not bytes, or body bytes before
// start_response): the breach is recorded, no exception is set.
bool append_body(PyObject* response, PyObject* item);

// Attached only. Records `detail` as a breach (the first one is kept).
void record_violation(PyObject* response, std::string detail);

// Attached only. Ends the response: later start_response and write calls
// raise. Moves out what was gathered; returns whether start_response was
// called, and the first breach in `violation` ("" if none).
bool finish_response(PyObject* response, ResponseParts& parts, std::string& violation);

}  // namespace pycnode::python::wsgi
