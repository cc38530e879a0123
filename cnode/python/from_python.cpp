#include "python/from_python.hpp"

#include "python/compat.hpp"
#include "python/errors.hpp"
#include "python/map_keys.hpp"
#include "python/worker_context.hpp"
#include "term/term_check.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

namespace pycnode::python {
namespace {

using term::Term;

// Erlang refuses longer atoms, and drops the whole message that holds one.
constexpr Py_ssize_t max_atom_characters = 255;

// What a dict key becomes, as far as telling whether two distinct keys can
// turn into equal terms (see map_keys.hpp).
enum KeyOrigin : unsigned { FromText = 1, FromBytes = 2, FromAtom = 4, FromSingleton = 8, FromCompound = 16 };

bool keys_may_collide(unsigned origins) {
    return (origins & FromCompound) || ((origins & FromText) && (origins & FromBytes)) ||
           ((origins & FromAtom) && (origins & FromSingleton));
}

// A buffer export, released on scope exit. While it lives a bytearray
// cannot be resized under us.
class BufferView {
public:
    bool acquire(PyObject* obj) { return acquired_ = PyObject_GetBuffer(obj, &view_, PyBUF_SIMPLE) == 0; }
    ~BufferView() {
        if (acquired_) PyBuffer_Release(&view_);
    }
    const void* data() const { return view_.buf; }
    std::size_t size() const { return static_cast<std::size_t>(view_.len); }

private:
    Py_buffer view_{};
    bool acquired_ = false;
};

struct DictEntry {
    PyRef key;
    PyRef value;
};

// Strong references to every entry, taken in one critical section: another
// thread may mutate the dict, and converting an entry may run code that
// would suspend the section.
std::vector<DictEntry> snapshot(PyObject* dict) {
    std::vector<DictEntry> entries;
    PYCNODE_BEGIN_CRITICAL_SECTION(dict);
    entries.reserve(static_cast<std::size_t>(PyDict_GET_SIZE(dict)));
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    while (PyDict_Next(dict, &pos, &key, &value)) entries.push_back({PyRef::borrow(key), PyRef::borrow(value)});
    PYCNODE_END_CRITICAL_SECTION();
    return entries;
}

// One conversion: walks the object depth-first. A failing step returns false
// and leaves the reason in `error`.
class PythonToTerm {
public:
    PythonToTerm(WorkerContext& ctx, term::ByteArena& arena, bool nil_as_none)
        : ctx_(ctx),
          arena_(arena),
          none_atom_(nil_as_none ? "nil" : "undefined"),
          atom_type_(reinterpret_cast<PyTypeObject*>(ctx.atom_type())),
          opaque_type_(reinterpret_cast<PyTypeObject*>(ctx.opaque_type())) {}

    bool convert(PyObject* obj, int depth, Term& out);
    const std::string& error() const { return error_; }

private:
    bool fail(std::string detail) {
        if (error_.empty()) error_ = std::move(detail);
        return false;
    }
    bool python_failed(std::string_view what) { return fail(fmt::format("{}: {}", what, take_exception_text())); }

    bool convert_subclass(PyObject* obj, int depth, Term& out);
    bool integer(PyObject* obj, Term& out);
    bool big_integer(PyObject* obj, bool negative, Term& out);
    bool real(double value, Term& out);
    bool text(PyObject* obj, Term& out);
    bool atom(PyObject* obj, Term& out);
    bool buffer(PyObject* obj, Term& out);
    bool opaque(PyObject* obj, Term& out);
    bool tuple(PyObject* obj, int depth, Term& out);
    bool list(PyObject* obj, int depth, Term& out);
    bool map(PyObject* obj, int depth, Term& out);
    unsigned key_origin(PyObject* key) const;

    WorkerContext& ctx_;
    term::ByteArena& arena_;
    const char* none_atom_;
    PyTypeObject* atom_type_;
    PyTypeObject* opaque_type_;
    std::string error_;
};

bool PythonToTerm::convert(PyObject* obj, int depth, Term& out) {
    if (depth > max_conversion_depth)
        return fail(fmt::format("value nested deeper than {} levels (does a container contain itself?)",
                                max_conversion_depth));
    // The singletons first (bool is an int), then the exact built-in types:
    // the common case costs a pointer comparison or two.
    if (obj == Py_None) return out = Term::make_atom(none_atom_), true;
    if (obj == Py_True) return out = Term::make_atom("true"), true;
    if (obj == Py_False) return out = Term::make_atom("false"), true;
    PyTypeObject* type = Py_TYPE(obj);
    if (type == &PyLong_Type) return integer(obj, out);
    if (type == &PyUnicode_Type) return text(obj, out);
    if (type == &PyBytes_Type) {
        out = Term::make_binary(arena_.copy(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj))));
        return true;
    }
    if (type == &PyFloat_Type) return real(PyFloat_AS_DOUBLE(obj), out);
    if (type == &PyList_Type) return list(obj, depth, out);
    if (type == &PyTuple_Type) return tuple(obj, depth, out);
    if (type == &PyDict_Type) return map(obj, depth, out);
    return convert_subclass(obj, depth, out);
}

bool PythonToTerm::convert_subclass(PyObject* obj, int depth, Term& out) {
    // Atom before str: an Atom is a str.
    if (PyObject_TypeCheck(obj, atom_type_)) return atom(obj, out);
    if (PyObject_TypeCheck(obj, opaque_type_)) return opaque(obj, out);
    if (PyLong_Check(obj)) return integer(obj, out);
    if (PyUnicode_Check(obj)) return text(obj, out);
    if (PyBytes_Check(obj) || PyByteArray_Check(obj) || PyMemoryView_Check(obj)) return buffer(obj, out);
    if (PyFloat_Check(obj)) return real(PyFloat_AS_DOUBLE(obj), out);
    if (PyList_Check(obj)) return list(obj, depth, out);
    if (PyTuple_Check(obj)) return tuple(obj, depth, out);
    if (PyDict_Check(obj)) return map(obj, depth, out);
    return fail(fmt::format("cannot convert {} to an Erlang term", Py_TYPE(obj)->tp_name));
}

bool PythonToTerm::integer(PyObject* obj, Term& out) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow != 0) return big_integer(obj, overflow < 0, out);
    if (value == -1 && PyErr_Occurred()) return python_failed("int");
    out = Term::make_integer(value);
    return true;
}

// Erlang wants the magnitude little-endian and unsigned, the sign apart.
bool PythonToTerm::big_integer(PyObject* obj, bool negative, Term& out) {
    // int's own abs, so an int subclass's __abs__ cannot interfere.
    PyRef magnitude = PyRef::steal(PyLong_Type.tp_as_number->nb_absolute(obj));
    if (!magnitude) return python_failed("int");
    std::string bytes;
#if PY_VERSION_HEX >= 0x030D0000
    constexpr int flags = Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER;
    Py_ssize_t size = PyLong_AsNativeBytes(magnitude.get(), nullptr, 0, flags);
    if (size < 0) return python_failed("int");
    bytes.resize(static_cast<std::size_t>(size));
    if (PyLong_AsNativeBytes(magnitude.get(), bytes.data(), size, flags) < 0) return python_failed("int");
#else
    std::size_t bits = _PyLong_NumBits(magnitude.get());
    if (bits == static_cast<std::size_t>(-1) && PyErr_Occurred()) return python_failed("int");
    bytes.resize((bits + 7) / 8);
    if (_PyLong_AsByteArray(reinterpret_cast<PyLongObject*>(magnitude.get()),
                            reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), /*little_endian=*/1,
                            /*is_signed=*/0) < 0)
        return python_failed("int");
#endif
    while (!bytes.empty() && bytes.back() == '\0') bytes.pop_back();  // the size may be generous
    out.kind = term::Kind::BigInteger;
    out.negative = negative;
    out.bytes = arena_.keep(std::move(bytes));
    return true;
}

bool PythonToTerm::real(double value, Term& out) {
    if (!std::isfinite(value))
        return fail(fmt::format("cannot convert float {} to an Erlang term (Erlang floats are finite)", value));
    out = Term::make_float(value);
    return true;
}

bool PythonToTerm::text(PyObject* obj, Term& out) {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(obj, &size);
    if (!utf8) return python_failed("str cannot be encoded as UTF-8");
    out = Term::make_binary(arena_.copy(utf8, static_cast<std::size_t>(size)));
    return true;
}

bool PythonToTerm::atom(PyObject* obj, Term& out) {
    Py_ssize_t characters = PyUnicode_GET_LENGTH(obj);
    if (characters > max_atom_characters)
        return fail(fmt::format("atom name of {} characters (Erlang allows at most {})", characters,
                                max_atom_characters));
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(obj, &size);
    if (!utf8) return python_failed("atom name cannot be encoded as UTF-8");
    out = Term::make_atom(arena_.copy(utf8, static_cast<std::size_t>(size)));
    return true;
}

bool PythonToTerm::buffer(PyObject* obj, Term& out) {
    BufferView view;
    if (!view.acquire(obj)) return python_failed(fmt::format("cannot convert {}", Py_TYPE(obj)->tp_name));
    out = Term::make_binary(arena_.copy(view.data(), view.size()));
    return true;
}

// Opaque.ext goes out verbatim, so it must be exactly one term that Erlang
// accepts: not only well formed, but with no map holding two keys Erlang
// considers equal, at any depth (term_check.hpp). Anything less would make
// Erlang drop the whole connection.
bool PythonToTerm::opaque(PyObject* obj, Term& out) {
    PyRef ext = PyRef::steal(PyObject_GetAttr(obj, ctx_.names().ext.get()));
    if (!ext) return python_failed("Opaque.ext");
    if (!PyBytes_Check(ext.get()))
        return fail(fmt::format("Opaque.ext must be bytes, not {}", Py_TYPE(ext.get())->tp_name));
    // bytes are immutable: the view stays valid while `ext` is held.
    std::string_view raw(PyBytes_AS_STRING(ext.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(ext.get())));
    if (const char* problem = term::check_ext(raw))
        return fail(fmt::format("Opaque.ext is not one term that Erlang accepts ({})", problem));
    out = Term::make_opaque(arena_.copy(raw.data(), raw.size()));
    return true;
}

// Tuples are immutable: their items stay put while the tuple is alive.
bool PythonToTerm::tuple(PyObject* obj, int depth, Term& out) {
    std::vector<Term> items(static_cast<std::size_t>(PyTuple_GET_SIZE(obj)));
    for (std::size_t i = 0; i < items.size(); ++i)
        if (!convert(PyTuple_GET_ITEM(obj, static_cast<Py_ssize_t>(i)), depth + 1, items[i])) return false;
    out = Term::make_tuple(std::move(items));
    return true;
}

// Another thread may change the list while we walk it: each item is taken
// as a strong reference, and the walk ends wherever the list ends then.
bool PythonToTerm::list(PyObject* obj, int depth, Term& out) {
    std::vector<Term> items;
    items.reserve(static_cast<std::size_t>(PyList_GET_SIZE(obj)));
    for (Py_ssize_t i = 0;; ++i) {
        PyRef item = list_item(obj, i);
        if (!item) break;
        if (!convert(item.get(), depth + 1, items.emplace_back())) return false;
    }
    out = Term::make_list(std::move(items));
    return true;
}

bool PythonToTerm::map(PyObject* obj, int depth, Term& out) {
    std::vector<DictEntry> entries = snapshot(obj);
    std::vector<Term> kv(entries.size() * 2);
    unsigned origins = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        origins |= key_origin(entries[i].key.get());
        if (!convert(entries[i].key.get(), depth + 1, kv[2 * i])) return false;
        if (!convert(entries[i].value.get(), depth + 1, kv[2 * i + 1])) return false;
    }
    if (keys_may_collide(origins) && has_duplicate_keys(kv))
        return fail("dict has distinct keys that become the same Erlang term "
                    "(such as 'a' and b'a', or None and Atom('undefined'))");
    out = Term::make_map(std::move(kv));
    return true;
}

unsigned PythonToTerm::key_origin(PyObject* key) const {
    if (key == Py_None || key == Py_True || key == Py_False) return FromSingleton;
    if (PyObject_TypeCheck(key, atom_type_)) return FromAtom;
    if (PyUnicode_Check(key)) return FromText;
    if (PyBytes_Check(key) || PyMemoryView_Check(key)) return FromBytes;
    if (PyTuple_Check(key) || PyObject_TypeCheck(key, opaque_type_)) return FromCompound;
    return 0;  // int and float keys map one to one
}

}  // namespace

ConversionStatus from_python(WorkerContext& ctx, PyObject* obj, term::ByteArena& arena, term::Term& out,
                             bool nil_as_none) {
    PythonToTerm conversion(ctx, arena, nil_as_none);
    if (conversion.convert(obj, 0, out)) return ConversionStatus::success();
    PyErr_Clear();  // the detail already says what went wrong
    return ConversionStatus::failure(conversion.error().empty() ? "conversion failed" : conversion.error());
}

}  // namespace pycnode::python
