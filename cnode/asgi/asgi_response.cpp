#include "asgi/asgi_response.hpp"

#include "asgi/asgi_worker.hpp"
#include "python/compat.hpp"
#include "python/errors.hpp"
#include "python/worker_context.hpp"

#include <fmt/format.h>

#include <string_view>
#include <vector>

namespace pycnode::python {
namespace {

using term::Term;

constexpr long long lowest_status = 100;
constexpr long long highest_status = 999;

Term tuple2(Term a, Term b) {
    std::vector<Term> items;
    items.reserve(2);
    items.push_back(std::move(a));
    items.push_back(std::move(b));
    return Term::make_tuple(std::move(items));
}

Term error_reply(Term reason) { return tuple2(Term::make_atom("error"), std::move(reason)); }

Term protocol_error_reply(term::ByteArena& arena, std::string detail) {
    return error_reply(tuple2(Term::make_atom("asgi_protocol"), Term::make_binary(arena.keep(std::move(detail)))));
}

// Item `index` of a list or tuple as a strong reference; empty past the end.
PyRef sequence_item(PyObject* seq, Py_ssize_t index) {
    if (PyTuple_Check(seq)) return index < PyTuple_GET_SIZE(seq) ? PyRef::borrow(PyTuple_GET_ITEM(seq, index)) : PyRef();
    return list_item(seq, index);
}

bool is_sequence(PyObject* obj) { return PyTuple_Check(obj) || PyList_Check(obj); }

// Appends a bytes-like object's contents; false if it is not bytes-like.
bool append_bytes(PyObject* obj, std::string& out) {
    if (PyBytes_Check(obj)) {
        out.append(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
        return true;
    }
    if (PyUnicode_Check(obj) || !PyObject_CheckBuffer(obj)) return false;
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return false;
    }
    out.append(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
    PyBuffer_Release(&view);
    return true;
}

bool status_term(PyObject* status, Term& out, std::string& error) {
    if (!PyLong_Check(status) || PyBool_Check(status)) {
        error = fmt::format("status must be an int, not {}", Py_TYPE(status)->tp_name);
        return false;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(status, &overflow);
    if (overflow || value < lowest_status || value > highest_status) {
        PyErr_Clear();
        error = "status must be an int from 100 to 999";
        return false;
    }
    out = Term::make_integer(value);
    return true;
}

// Appends one (name, value) pair to `all`, recording where each part ends.
bool append_header(PyObject* pair, std::string& all, std::vector<std::size_t>& ends) {
    if (!is_sequence(pair) || sequence_item(pair, 2)) return false;
    for (Py_ssize_t part = 0; part < 2; ++part) {
        PyRef bytes = sequence_item(pair, part);
        if (!bytes || !append_bytes(bytes.get(), all)) return false;
        ends.push_back(all.size());
    }
    return true;
}

bool is_token_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_control_char(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// RFC 9110: a field name is a token, a value holds no control character but
// HTAB. The Erlang side writes these headers as they are, and a CR or LF in
// one would split its HTTP response (header injection). Empty if valid.
std::string header_text_problem(std::string_view name, std::string_view value, std::size_t number) {
    bool token = !name.empty();
    for (char c : name) token = token && is_token_char(static_cast<unsigned char>(c));
    if (!token) return fmt::format("response header {} name is not a valid HTTP header name", number);
    for (char c : value)
        if (is_control_char(static_cast<unsigned char>(c)))
            return fmt::format("response header {} value contains a control character", number);
    return {};
}

// All names and values go into one arena string; the terms view slices of it.
// A header whose text breaks HTTP sets `protocol` too.
bool headers_term(PyObject* headers, term::ByteArena& arena, Term& out, std::string& error, bool& protocol) {
    if (!is_sequence(headers)) {
        error = fmt::format("headers must be a list of (bytes, bytes) pairs, not {}", Py_TYPE(headers)->tp_name);
        return false;
    }
    std::string all;
    std::vector<std::size_t> ends;
    for (Py_ssize_t i = 0;; ++i) {
        PyRef pair = sequence_item(headers, i);
        if (!pair) break;
        if (!append_header(pair.get(), all, ends)) {
            error = fmt::format("header {} must be a (bytes, bytes) pair", i + 1);
            return false;
        }
    }
    std::string_view base = arena.keep(std::move(all));
    std::vector<Term> items;
    items.reserve(ends.size() / 2);
    for (std::size_t i = 0, start = 0; i + 1 < ends.size(); i += 2) {
        std::string_view name = base.substr(start, ends[i] - start);
        std::string_view value = base.substr(ends[i], ends[i + 1] - ends[i]);
        if (error = header_text_problem(name, value, i / 2 + 1); !error.empty()) {
            protocol = true;
            return false;
        }
        items.push_back(tuple2(Term::make_binary(name), Term::make_binary(value)));
        start = ends[i + 1];
    }
    out = Term::make_list(std::move(items));
    return true;
}

// Bodies from this size on are referenced where they are, not copied.
constexpr Py_ssize_t held_body_size = 64 * 1024;

bool body_term(WorkerContext& ctx, PyObject* body, term::ByteArena& arena, Term& out, std::string& error) {
    if (PyBytes_CheckExact(body) && PyBytes_GET_SIZE(body) >= held_body_size) {
        // Immutable, and alive until the reply is encoded: no copy needed.
        ctx.hold(PyRef::borrow(body));
        out = Term::make_binary(std::string_view(PyBytes_AS_STRING(body), static_cast<std::size_t>(PyBytes_GET_SIZE(body))));
        return true;
    }
    std::string bytes;
    if (!append_bytes(body, bytes)) {
        error = fmt::format("body must be bytes, not {}", Py_TYPE(body)->tp_name);
        return false;
    }
    out = Term::make_binary(arena.keep(std::move(bytes)));
    return true;
}

}  // namespace

term::Term asgi_response_reply(WorkerContext& ctx, PyObject* result, term::ByteArena& arena) {
    std::string error;
    PyRef parts[3];
    bool shaped = is_sequence(result);
    for (Py_ssize_t i = 0; shaped && i < 3; ++i) shaped = bool(parts[i] = sequence_item(result, i));
    if (!shaped || sequence_item(result, 3))
        return bad_result_reply(arena, fmt::format("the ASGI run must return (status, headers, body), not {}",
                                                   Py_TYPE(result)->tp_name));
    std::vector<Term> response(3);
    bool protocol = false;
    if (!status_term(parts[0].get(), response[0], error) ||
        !headers_term(parts[1].get(), arena, response[1], error, protocol) ||
        !body_term(ctx, parts[2].get(), arena, response[2], error))
        return protocol ? protocol_error_reply(arena, std::move(error)) : bad_result_reply(arena, error);
    return tuple2(Term::make_atom("ok"), Term::make_tuple(std::move(response)));
}

term::Term asgi_error_reply(WorkerContext& ctx, AsgiWorker& asgi, term::ByteArena& arena) {
    if (PyErr_ExceptionMatches(asgi.no_response())) {
        PyErr_Clear();
        return error_reply(Term::make_atom("no_response"));
    }
    if (!PyErr_ExceptionMatches(asgi.protocol_error())) return python_error_reply(ctx, arena);
    PyRef exc = take_exception();
    PyRef text = PyRef::steal(PyObject_Str(exc.get()));
    std::string detail;
    if (!text || !append_utf8_lenient(text.get(), detail)) detail = "<unprintable>";
    PyErr_Clear();
    return protocol_error_reply(arena, std::move(detail));
}

term::Term asgi_unknown_scope_reply() { return error_reply(Term::make_atom("unknown_scope")); }

term::Term asgi_lifespan_failed_reply(term::ByteArena& arena, std::string_view message) {
    return error_reply(tuple2(Term::make_atom("lifespan_failed"), Term::make_binary(arena.copy(message.data(), message.size()))));
}

}  // namespace pycnode::python
