#include "python/errors.hpp"

#include "python/worker_context.hpp"

#include <fmt/format.h>

#include <vector>

namespace pycnode::python {
namespace {

using term::Term;

Term error_reply(Term reason) { return Term::tuple_of(Term::make_atom("error"), std::move(reason)); }

Term tagged_detail(const char* tag, term::ByteArena& arena, std::string_view detail) {
    return error_reply(Term::make_tuple({Term::make_atom(tag), Term::make_binary(arena.copy(detail.data(), detail.size()))}));
}

std::string type_name(PyObject* exc) {
    PyRef name = PyRef::steal(PyType_GetQualName(Py_TYPE(exc)));
    std::string text;
    if (!name || !append_utf8_lenient(name.get(), text)) {
        PyErr_Clear();
        text = Py_TYPE(exc)->tp_name;
    }
    return text;
}

// The three parts of {python, TypeName, Message, Traceback}, from pyrunner's
// describe(exc). False (and no exception set) if it could not say.
bool describe(WorkerContext& ctx, PyObject* exc, std::string (&parts)[3]) {
    PyObject* describe = ctx.callable("pyrunner.errors", "describe");
    PyObject* args[] = {nullptr, exc};
    PyRef result =
        describe ? PyRef::steal(PyObject_Vectorcall(describe, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr))
                 : PyRef();
    bool ok = result && PyTuple_Check(result.get()) && PyTuple_GET_SIZE(result.get()) == 3;
    for (Py_ssize_t i = 0; ok && i < 3; ++i) ok = append_utf8_lenient(PyTuple_GET_ITEM(result.get(), i), parts[i]);
    PyErr_Clear();
    return ok;
}

}  // namespace

PyRef take_exception() {
#if PY_VERSION_HEX >= 0x030C0000
    return PyRef::steal(PyErr_GetRaisedException());
#else
    PyObject* type = nullptr;
    PyObject* value = nullptr;
    PyObject* traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyRef owned_type = PyRef::steal(type);
    PyRef owned_traceback = PyRef::steal(traceback);
    if (value && traceback) PyException_SetTraceback(value, traceback);
    return PyRef::steal(value);
#endif
}

bool append_utf8_lenient(PyObject* str, std::string& out) {
    if (!PyUnicode_Check(str)) return false;
    Py_ssize_t size = 0;
    if (const char* utf8 = PyUnicode_AsUTF8AndSize(str, &size)) {
        out.append(utf8, static_cast<std::size_t>(size));
        return true;
    }
    PyErr_Clear();  // lone surrogates: escape them instead
    PyRef escaped = PyRef::steal(PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace"));
    if (!escaped) return false;
    out.append(PyBytes_AS_STRING(escaped.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(escaped.get())));
    return true;
}

std::string take_exception_text() {
    PyRef exc = take_exception();
    if (!exc) return "";
    std::string text = type_name(exc.get());
    PyRef message = PyRef::steal(PyObject_Str(exc.get()));
    std::string message_text;
    if (message && append_utf8_lenient(message.get(), message_text)) {
        if (!message_text.empty()) text += ": " + message_text;
    } else {
        text += ": <unprintable>";
    }
    PyErr_Clear();
    return text;
}

term::Term python_error_reply(WorkerContext& ctx, term::ByteArena& arena) {
    PyRef exc = take_exception();
    std::string parts[3];
    if (!exc) {
        parts[0] = "SystemError";
        parts[1] = "error return without an exception set";
    } else if (!describe(ctx, exc.get(), parts)) {
        for (auto& part : parts) part.clear();
        parts[0] = type_name(exc.get());
        parts[1] = "<unprintable>";
    }
    Term reason = Term::make_tuple({Term::make_atom("python"), Term::make_binary(arena.keep(std::move(parts[0]))),
                                    Term::make_binary(arena.keep(std::move(parts[1]))),
                                    Term::make_binary(arena.keep(std::move(parts[2])))});
    return error_reply(std::move(reason));
}

term::Term bad_request_reply(term::ByteArena& arena, std::string_view detail) {
    return tagged_detail("bad_request", arena, detail);
}

term::Term bad_result_reply(term::ByteArena& arena, std::string_view detail) {
    return tagged_detail("bad_result", arena, detail);
}

term::Term bad_handle_reply(term::ByteArena& arena, std::string_view detail) {
    return tagged_detail("bad_handle", arena, detail);
}

}  // namespace pycnode::python
