#include "asgi/scope_values.hpp"

#include "python/conversion.hpp"
#include "python/errors.hpp"
#include "python/to_python.hpp"

#include <fmt/format.h>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

PyRef utf8(std::string_view text, std::string& error) {
    PyRef str = PyRef::steal(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
    if (!str) error = fmt::format("scope: text that is not UTF-8: {}", take_exception_text());
    return str;
}

PyRef convert(WorkerContext& ctx, const Term& t, bool key, int depth, std::string& error);

PyRef sequence(WorkerContext& ctx, const Term& t, int depth, std::string& error) {
    bool tuple = t.kind == Kind::Tuple;
    auto size = static_cast<Py_ssize_t>(t.items.size());
    PyRef out = PyRef::steal(tuple ? PyTuple_New(size) : PyList_New(size));
    for (Py_ssize_t i = 0; out && i < size; ++i) {
        PyRef item = convert(ctx, t.items[static_cast<std::size_t>(i)], false, depth + 1, error);
        if (!item) return {};
        // Still ours alone: filling it in place is safe.
        if (tuple)
            PyTuple_SET_ITEM(out.get(), i, item.release());
        else
            PyList_SET_ITEM(out.get(), i, item.release());
    }
    return out;
}

PyRef map(WorkerContext& ctx, const Term& t, int depth, std::string& error) {
    PyRef out = PyRef::steal(PyDict_New());
    for (std::size_t i = 0; out && i + 1 < t.items.size(); i += 2) {
        PyRef key = convert(ctx, t.items[i], true, depth + 1, error);
        PyRef value = key ? convert(ctx, t.items[i + 1], false, depth + 1, error) : PyRef();
        if (!value) return {};
        if (PyDict_SetItem(out.get(), key.get(), value.get()) < 0) {
            error = fmt::format("scope: map key: {}", take_exception_text());
            return {};
        }
    }
    return out;
}

PyRef generic(WorkerContext& ctx, const Term& t, std::string& error) {
    PyRef out;
    if (auto status = to_python(ctx, t, out); !status) error = "scope: " + status.detail();
    return out;
}

PyRef convert(WorkerContext& ctx, const Term& t, bool key, int depth, std::string& error) {
    if (depth > max_conversion_depth) {
        error = fmt::format("scope: term nested deeper than {} levels", max_conversion_depth);
        return {};
    }
    switch (t.kind) {
        case Kind::Binary: return utf8(t.bytes, error);
        case Kind::Atom:
            if (!key && (t.bytes == "true" || t.bytes == "false" || t.bytes == "undefined")) return generic(ctx, t, error);
            return utf8(t.bytes, error);
        case Kind::Map: return map(ctx, t, depth, error);
        case Kind::List:
        case Kind::Tuple: return sequence(ctx, t, depth, error);
        default: return generic(ctx, t, error);
    }
}

}  // namespace

PyRef text_term_to_python(WorkerContext& ctx, const Term& term, std::string& error) {
    PyRef out = convert(ctx, term, false, 0, error);
    if (!out) PyErr_Clear();
    return out;
}

}  // namespace pycnode::python
