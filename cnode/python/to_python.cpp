#include "python/to_python.hpp"

#include "python/errors.hpp"
#include "python/handles.hpp"
#include "python/worker_context.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

// One conversion: walks the term depth-first. A failing step returns an
// empty PyRef and leaves the reason in `error`, never a Python exception.
class TermToPython {
public:
    TermToPython(WorkerContext& ctx, const ConversionOptions& options) : ctx_(ctx), options_(options) {}

    PyRef convert(const Term& t, int depth);
    const std::string& error() const { return error_; }
    bool bad_handle() const { return bad_handle_; }

private:
    PyRef fail(std::string detail) {
        if (error_.empty()) error_ = std::move(detail);
        return {};
    }
    // For a Python API call that may have failed: passes a success through,
    // turns a failure's exception into the error detail.
    PyRef checked(PyObject* result, std::string_view what) {
        if (result) return PyRef::steal(result);
        return fail(fmt::format("{}: {}", what, take_exception_text()));
    }

    PyRef binary(std::string_view bytes);
    PyRef big_integer(const Term& t);
    PyRef atom(std::string_view name);
    PyRef list(const std::vector<Term>& items, int depth);
    PyRef tuple(const std::vector<Term>& items, int depth);
    PyRef map(const std::vector<Term>& items, int depth);
    PyRef opaque(std::string_view ext);
    PyRef handle(std::string_view reference);

    WorkerContext& ctx_;
    const ConversionOptions& options_;
    std::string error_;
    bool bad_handle_ = false;
};

PyRef TermToPython::convert(const Term& t, int depth) {
    if (depth > max_conversion_depth)
        return fail(fmt::format("term nested deeper than {} levels", max_conversion_depth));
    switch (t.kind) {
        case Kind::Integer: return checked(PyLong_FromLongLong(t.integer), "integer");
        case Kind::BigInteger: return big_integer(t);
        case Kind::Float: return checked(PyFloat_FromDouble(t.real), "float");
        case Kind::Atom: return atom(t.bytes);
        case Kind::Binary: return binary(t.bytes);
        case Kind::List: return list(t.items, depth);
        case Kind::Tuple: {
            std::string_view reference;
            return is_handle_term(t, reference) ? handle(reference) : tuple(t.items, depth);
        }
        case Kind::Map: return map(t.items, depth);
        case Kind::Opaque: return opaque(t.bytes);
    }
    return fail("term of an unknown kind");
}

PyRef TermToPython::binary(std::string_view bytes) {
    if (!options_.binaries_as_str)
        return checked(PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())), "binary");
    PyObject* text = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "strict");
    if (!text) {
        PyErr_Clear();
        return fail("binary is not valid UTF-8, so it cannot be a str (strings => str); send it with "
                    "strings => bytes");
    }
    return PyRef::steal(text);
}

// The magnitude arrives little-endian and unsigned, the sign apart.
PyRef TermToPython::big_integer(const Term& t) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(t.bytes.data());
#if PY_VERSION_HEX >= 0x030D0000
    PyRef magnitude = checked(PyLong_FromUnsignedNativeBytes(bytes, t.bytes.size(), Py_ASNATIVEBYTES_LITTLE_ENDIAN |
                                                                                        Py_ASNATIVEBYTES_UNSIGNED_BUFFER),
                              "big integer");
#else
    PyRef magnitude = checked(_PyLong_FromByteArray(bytes, t.bytes.size(), /*little_endian=*/1, /*is_signed=*/0),
                              "big integer");
#endif
    if (!magnitude || !t.negative) return magnitude;
    return checked(PyNumber_Negative(magnitude.get()), "big integer");
}

PyRef TermToPython::atom(std::string_view name) {
    if (name == "true") return PyRef::borrow(Py_True);
    if (name == "false") return PyRef::borrow(Py_False);
    if (name == "undefined" || (options_.nil_as_none && name == "nil")) return PyRef::borrow(Py_None);
    return checked(ctx_.make_atom(name).release(), "atom");
}

PyRef TermToPython::list(const std::vector<Term>& items, int depth) {
    PyRef result = checked(PyList_New(static_cast<Py_ssize_t>(items.size())), "list");
    for (std::size_t i = 0; result && i < items.size(); ++i) {
        PyRef item = convert(items[i], depth + 1);
        if (!item) return {};
        // The list is still ours alone, so filling it in place is safe.
        PyList_SET_ITEM(result.get(), static_cast<Py_ssize_t>(i), item.release());
    }
    return result;
}

PyRef TermToPython::tuple(const std::vector<Term>& items, int depth) {
    PyRef result = checked(PyTuple_New(static_cast<Py_ssize_t>(items.size())), "tuple");
    for (std::size_t i = 0; result && i < items.size(); ++i) {
        PyRef item = convert(items[i], depth + 1);
        if (!item) return {};
        PyTuple_SET_ITEM(result.get(), static_cast<Py_ssize_t>(i), item.release());
    }
    return result;
}

PyRef TermToPython::map(const std::vector<Term>& items, int depth) {
    PyRef result = checked(PyDict_New(), "map");
    for (std::size_t i = 0; result && i + 1 < items.size(); i += 2) {
        PyRef key = convert(items[i], depth + 1);
        PyRef value = key ? convert(items[i + 1], depth + 1) : PyRef();
        if (!value) return {};
        if (PyDict_SetItem(result.get(), key.get(), value.get()) < 0)
            return fail(fmt::format("map key: {}", take_exception_text()));
    }
    // Keys distinct in Erlang may be equal in Python (1, 1.0 and true): the
    // dict would silently keep only one of them.
    if (result && static_cast<std::size_t>(PyDict_GET_SIZE(result.get())) != items.size() / 2)
        return fail("map has keys that are distinct in Erlang but equal in Python (such as 1, 1.0 and true)");
    return result;
}

PyRef TermToPython::opaque(std::string_view ext) {
    PyRef raw = checked(PyBytes_FromStringAndSize(ext.data(), static_cast<Py_ssize_t>(ext.size())), "opaque term");
    if (!raw) return {};
    PyObject* args[] = {nullptr, raw.get()};
    return checked(PyObject_Vectorcall(ctx_.opaque_type(), args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr),
                   "opaque term");
}

// A handle stands for its object, the same object (not a copy).
PyRef TermToPython::handle(std::string_view reference) {
    PyRef object = handles().find(reference);
    if (object) return object;
    bad_handle_ = error_.empty();
    return fail("not a live handle of this node (released, its owner exited, or made elsewhere)");
}

}  // namespace

ConversionOptions& call_conversion_defaults() {
    static ConversionOptions defaults;
    return defaults;
}

ConversionStatus to_python(WorkerContext& ctx, const term::Term& term, PyRef& out, const ConversionOptions& options) {
    TermToPython conversion(ctx, options);
    out = conversion.convert(term, 0);
    if (out) return ConversionStatus::success();
    PyErr_Clear();  // the detail already says what went wrong
    if (conversion.bad_handle()) return ConversionStatus::bad_handle(conversion.error());
    return ConversionStatus::failure(conversion.error().empty() ? "conversion failed" : conversion.error());
}

}  // namespace pycnode::python
