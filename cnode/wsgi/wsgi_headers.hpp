// The rules PEP 3333 and HTTP set on a WSGI response's status line and
// headers, and the readers that take them out of Python objects.
//
// pyrunner/wsgi.py applies the same rules, in the same order, with the same
// messages, so the native path and default_wsgi_handler answer alike.
#pragma once

#include "python/py_ref.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pycnode::python::wsgi {

using Header = std::pair<std::string, std::string>;

// RFC 9110: controls other than horizontal tab may not appear in a value.
inline bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// RFC 9110 tchar: what a header name (a token) is made of. A table: every
// byte of every header name goes through it.
inline bool is_token_char(unsigned char c) {
    static constexpr auto table = [] {
        std::array<bool, 256> t{};
        for (int c = '0'; c <= '9'; ++c) t[c] = true;
        for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
        for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
        return t;
    }();
    return table[c];
}

// Headers that belong to one connection, which the HTTP server owns
// (wsgiref.util.is_hop_by_hop's list).
inline bool is_hop_by_hop(std::string_view name) {
    static constexpr std::string_view names[] = {"connection", "keep-alive", "proxy-authenticate",
                                                 "proxy-authorization", "te", "trailers",
                                                 "transfer-encoding", "upgrade"};
    for (std::string_view hop : names) {
        if (hop.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; same && i < hop.size(); ++i)
            same = hop[i] == (name[i] >= 'A' && name[i] <= 'Z' ? name[i] + ('a' - 'A') : name[i]);
        if (same) return true;
    }
    return false;
}

// A 3-digit code (100-999), a space, a reason phrase without controls (it
// may be empty). Latin-1 bytes.
inline bool is_status_line(std::string_view s) {
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (s.size() < 4 || s[0] < '1' || !digit(s[0]) || !digit(s[1]) || !digit(s[2]) || s[3] != ' ') return false;
    for (char c : s.substr(4))
        if (is_control(static_cast<unsigned char>(c))) return false;
    return true;
}

// What is wrong with header `index` (latin-1 bytes), or "" if nothing.
std::string header_problem(std::size_t index, std::string_view name, std::string_view value);

// How strictly a reader takes Python objects apart: start_response gets
// exactly what PEP 3333 says (str, list, tuples); a custom runner's result
// may also use bytes, and a tuple or list for the headers and each pair.
enum class Strictness { Pep3333, RunnerResult };

// Attached only. The latin-1 bytes of `status` into `out`, or the problem
// (prefixed with `where`, e.g. "start_response").
std::string read_status(PyObject* status, Strictness strictness, std::string_view where, std::string& out);

// Attached only. Every header of `headers`, as latin-1 bytes, into `out`, or
// the first problem.
std::string read_headers(PyObject* headers, Strictness strictness, std::string_view where,
                         std::vector<Header>& out);

// Attached only. `Py_TYPE(obj).__name__`, as pyrunner's messages say it.
std::string type_name_of(PyObject* obj);

}  // namespace pycnode::python::wsgi
