#include "wsgi/wsgi_headers.hpp"

#include "python/compat.hpp"
#include "python/errors.hpp"

#include <fmt/format.h>

namespace pycnode::python::wsgi {
namespace {

// A str whose characters all fit in one byte stores exactly its latin-1
// encoding, so that is a view, not a conversion.
bool latin1_view(PyObject* str, std::string_view& out) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(str) < 0) {
        PyErr_Clear();
        return false;
    }
#endif
    if (PyUnicode_KIND(str) != PyUnicode_1BYTE_KIND) return false;
    out = std::string_view(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(str)),
                           static_cast<std::size_t>(PyUnicode_GET_LENGTH(str)));
    return true;
}

// Which text field is read, for messages: "status" or "headers[3] name".
// Formatted only when something is wrong.
struct Field {
    const char* part;             // "status", "name" or "value"
    std::size_t header = npos;    // the header's index, if it is one
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

auto format_as(const Field& f) {
    return f.header == Field::npos ? std::string(f.part) : fmt::format("headers[{}] {}", f.header, f.part);
}

// One text field (status, a header name or value): a latin-1 str, or for a
// runner's result also bytes. "" and the bytes in `out`, or the problem.
std::string read_text(PyObject* obj, Strictness strictness, std::string_view where, Field what, std::string& out) {
    std::string_view view;
    if (PyUnicode_Check(obj)) {
        if (!latin1_view(obj, view)) return fmt::format("{}: {} must be latin-1 text", where, format_as(what));
    } else if (strictness == Strictness::RunnerResult && PyBytes_Check(obj)) {
        view = std::string_view(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    } else {
        return fmt::format("{}: {} must be a str, not {}", where, format_as(what), type_name_of(obj));
    }
    out.assign(view);
    return {};
}

// A header pair: exactly a 2-tuple for start_response, a tuple or a list of
// two for a runner's result. Strong references to both parts.
bool split_pair(PyObject* pair, Strictness strictness, PyRef& name, PyRef& value) {
    if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {
        name = PyRef::borrow(PyTuple_GET_ITEM(pair, 0));
        value = PyRef::borrow(PyTuple_GET_ITEM(pair, 1));
        return true;
    }
    if (strictness != Strictness::RunnerResult || !PyList_Check(pair)) return false;
    name = list_item(pair, 0);
    value = list_item(pair, 1);
    return name && value && !list_item(pair, 2);
}

std::string read_header(PyObject* pair, std::size_t index, Strictness strictness, std::string_view where,
                        Header& out) {
    PyRef name, value;
    if (!split_pair(pair, strictness, name, value))
        return fmt::format("{}: headers[{}] must be a (name, value) tuple", where, index);
    std::string problem = read_text(name.get(), strictness, where, Field{"name", index}, out.first);
    if (problem.empty()) problem = read_text(value.get(), strictness, where, Field{"value", index}, out.second);
    if (!problem.empty()) return problem;
    problem = header_problem(index, out.first, out.second);
    return problem.empty() ? problem : fmt::format("{}: {}", where, problem);
}

}  // namespace

std::string header_problem(std::size_t index, std::string_view name, std::string_view value) {
    bool token = !name.empty();
    for (char c : name) token = token && is_token_char(static_cast<unsigned char>(c));
    if (!token) return fmt::format("headers[{}] name is not a valid HTTP header name", index);
    if (is_hop_by_hop(name))
        return fmt::format("headers[{}] is the hop-by-hop header {}, which a WSGI application must not send", index,
                           name);
    for (char c : value)
        if (is_control(static_cast<unsigned char>(c)))
            return fmt::format("headers[{}] value contains a control character", index);
    return {};
}

std::string read_status(PyObject* status, Strictness strictness, std::string_view where, std::string& out) {
    if (std::string problem = read_text(status, strictness, where, Field{"status"}, out); !problem.empty()) return problem;
    if (is_status_line(out)) return {};
    return fmt::format("{}: status must be a 3-digit code, a space and a reason phrase, like \"200 OK\"", where);
}

std::string read_headers(PyObject* headers, Strictness strictness, std::string_view where,
                         std::vector<Header>& out) {
    bool tuple = strictness == Strictness::RunnerResult && PyTuple_Check(headers);
    if (!tuple && !PyList_Check(headers))
        return fmt::format("{}: headers must be a list, not {}", where, type_name_of(headers));
    // The list may change under us (another thread, on a free-threaded
    // build): every item is taken as a strong reference, up to its end.
    for (Py_ssize_t i = 0;; ++i) {
        PyRef pair = tuple ? (i < PyTuple_GET_SIZE(headers) ? PyRef::borrow(PyTuple_GET_ITEM(headers, i)) : PyRef())
                           : list_item(headers, i);
        if (!pair) return {};
        std::string problem = read_header(pair.get(), static_cast<std::size_t>(i), strictness, where, out.emplace_back());
        if (!problem.empty()) return problem;
    }
}

std::string type_name_of(PyObject* obj) {
    PyRef name = PyRef::steal(PyType_GetName(Py_TYPE(obj)));
    std::string text;
    if (!name || !append_utf8_lenient(name.get(), text)) {
        PyErr_Clear();
        text = Py_TYPE(obj)->tp_name;
    }
    return text;
}

}  // namespace pycnode::python::wsgi
