#include "asgi/scope_spec.hpp"

#include "term/ext_format.hpp"

#include <fmt/format.h>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

// Ports are 16 bits; anything else is a caller's mistake worth reporting.
constexpr std::int64_t max_port = 65535;

bool is_text(const Term& t) { return t.kind == Kind::Binary && term::ext::valid_utf8(t.bytes); }

// Keys are atoms (as in the guide) or binaries.
bool key_name(const Term& key, std::string_view& name) {
    if ((key.kind != Kind::Atom && key.kind != Kind::Binary) || !term::ext::valid_utf8(key.bytes)) return false;
    name = key.bytes;
    return true;
}

std::string text_field(const Term& value, std::string_view key, std::string_view& out) {
    if (!is_text(value)) return fmt::format("scope: {} must be a UTF-8 binary", key);
    out = value.bytes;
    return {};
}

std::string bytes_field(const Term& value, std::string_view key, std::string_view& out) {
    if (value.kind != Kind::Binary) return fmt::format("scope: {} must be a binary", key);
    out = value.bytes;
    return {};
}

std::string map_field(const Term& value, std::string_view key, const Term*& out) {
    if (value.kind != Kind::Map) return fmt::format("scope: {} must be a map", key);
    out = &value;
    return {};
}

// asgi: a map of atom or binary keys to UTF-8 binaries, as {"version": "3.0"}.
std::string asgi_field(const Term& value, const Term*& out) {
    if (value.kind != Kind::Map) return "scope: asgi must be a map";
    for (std::size_t i = 0; i + 1 < value.items.size(); i += 2) {
        std::string_view name;
        if (!key_name(value.items[i], name) || !is_text(value.items[i + 1]))
            return "scope: asgi must map atoms or binaries to UTF-8 binaries";
    }
    out = &value;
    return {};
}

std::string extensions_field(const Term& value, const Term*& out) {
    if (value.kind != Kind::Map) return "scope: extensions must be a map";
    for (std::size_t i = 0; i < value.items.size(); i += 2) {
        std::string_view name;
        if (!key_name(value.items[i], name)) return "scope: extensions keys must be atoms or binaries";
    }
    out = &value;
    return {};
}

bool is_header(const Term& h) {
    return (h.kind == Kind::List || h.kind == Kind::Tuple) && h.items.size() == 2 &&
           h.items[0].kind == Kind::Binary && h.items[1].kind == Kind::Binary;
}

std::string headers_field(const Term& value, const Term*& out) {
    if (value.kind != Kind::List) return "scope: headers must be a list";
    for (std::size_t i = 0; i < value.items.size(); ++i)
        if (!is_header(value.items[i]))
            return fmt::format("scope: header {} must be [Name, Value] or {{Name, Value}} of binaries", i + 1);
    out = &value;
    return {};
}

// {Host, Port} (or [Host, Port]); `undefined` is the same as absent.
std::string endpoint_field(const Term& value, std::string_view key, ScopeEndpoint& out) {
    if (value.is_atom("undefined")) return {};
    bool shaped = (value.kind == Kind::Tuple || value.kind == Kind::List) && value.items.size() == 2;
    if (!shaped || !is_text(value.items[0]) || value.items[1].kind != Kind::Integer ||
        value.items[1].integer < 0 || value.items[1].integer > max_port)
        return fmt::format("scope: {} must be {{Host :: binary(), Port :: 0..65535}}", key);
    out = {true, value.items[0].bytes, value.items[1].integer};
    return {};
}

// The ASGI spec's query_string is "the portion of the URL after the ?";
// given with its '?' (a common slip), the app would see it twice in URLs it
// rebuilds, so one leading '?' is dropped.
std::string query_field(const Term& value, std::string_view& out) {
    if (std::string problem = bytes_field(value, "query_string", out); !problem.empty()) return problem;
    if (!out.empty() && out.front() == '?') out.remove_prefix(1);
    return {};
}

std::string field(std::string_view key, const Term& value, ScopeSpec& spec) {
    if (key == "path") return bytes_field(value, key, spec.path);
    if (key == "headers") return headers_field(value, spec.headers);
    if (key == "method") return text_field(value, key, spec.method);
    if (key == "query_string") return query_field(value, spec.query_string);
    if (key == "raw_path") return bytes_field(value, key, spec.raw_path);
    if (key == "type") return text_field(value, key, spec.type);
    if (key == "http_version") return text_field(value, key, spec.http_version);
    if (key == "scheme") return text_field(value, key, spec.scheme);
    if (key == "root_path") return text_field(value, key, spec.root_path);
    if (key == "client") return endpoint_field(value, key, spec.client);
    if (key == "server") return endpoint_field(value, key, spec.server);
    if (key == "asgi") return asgi_field(value, spec.asgi);
    if (key == "state") return map_field(value, key, spec.state);
    if (key == "extensions") return extensions_field(value, spec.extensions);
    spec.extra.emplace_back(key, &value);
    return {};
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string parse_scope(const Term& scope, ScopeSpec& spec) {
    if (scope.kind != Kind::Map) return "the scope must be a map";
    bool has_path = false;
    bool has_raw_path = false;
    for (std::size_t i = 0; i + 1 < scope.items.size(); i += 2) {
        std::string_view key;
        if (!key_name(scope.items[i], key)) return "scope keys must be atoms or UTF-8 binaries";
        if (std::string problem = field(key, scope.items[i + 1], spec); !problem.empty()) return problem;
        has_path |= key == "path";
        has_raw_path |= key == "raw_path";
    }
    if (!has_path) return "scope: path is required";
    if (!has_raw_path) spec.raw_path = spec.path;
    return {};
}

void percent_decode(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        int high = -1;
        int low = -1;
        if (in[i] == '%' && i + 2 < in.size()) {
            high = hex_digit(in[i + 1]);
            low = high < 0 ? -1 : hex_digit(in[i + 2]);
        }
        if (low < 0) {
            out.push_back(in[i]);
            continue;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
}


}  // namespace pycnode::python
