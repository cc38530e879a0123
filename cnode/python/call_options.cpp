#include "python/call_options.hpp"

#include "dist/node_terms.hpp"
#include "python/request_checks.hpp"

#include <fmt/format.h>

namespace pycnode::python {
namespace {

using term::Kind;
using term::Term;

bool key_name(const Term& key, std::string_view& name) {
    if (key.kind != Kind::Atom && key.kind != Kind::Binary) return false;
    name = key.bytes;
    return true;
}

// One of two words, as an atom or a binary.
std::string choice(const Term& value, std::string_view key, std::string_view yes, std::string_view no, bool& out) {
    std::string_view word;
    if (key_name(value, word) && (word == yes || word == no)) {
        out = word == yes;
        return {};
    }
    return fmt::format("option {} takes {} or {}", key, yes, no);
}

// The pairs of `kwargs` into `out`, checked.
std::string keyword_pairs(const Term& kwargs, std::vector<Keyword>& out);

}  // namespace

std::string read_call_options(const Term& request, CallOptions& out, std::size_t opts_at, bool with_kwargs) {
    if (request.items.size() <= opts_at) return {};
    const Term& opts = request.items[opts_at];
    for (std::size_t i = 0; i + 1 < opts.items.size(); i += 2) {
        std::string_view key;
        if (!key_name(opts.items[i], key)) return "option keys are atoms or binaries";
        const Term& value = opts.items[i + 1];
        if (key == "timeout") continue;  // the pool's (pool/deadline.hpp)
        if (key == "strings") {
            if (auto problem = choice(value, key, "str", "bytes", out.conversion.binaries_as_str); !problem.empty())
                return problem;
        } else if (key == "nil") {
            if (auto problem = choice(value, key, "none", "atom", out.conversion.nil_as_none); !problem.empty())
                return problem;
        } else if (key == "result") {
            if (auto problem = choice(value, key, "handle", "term", out.result_as_handle); !problem.empty())
                return problem;
        } else if (key == "owner") {
            if (value.kind != Kind::Opaque || dist::pid_node(value.bytes).empty()) return "option owner takes a pid";
            out.owner = value.bytes;
        } else if (key == "kwargs" && with_kwargs) {
            out.keywords.clear();
            if (auto problem = keyword_pairs(value, out.keywords); !problem.empty()) return problem;
        } else {
            return fmt::format("unknown option {} (options: {}strings, nil, result, owner, timeout)", key,
                               with_kwargs ? "kwargs, " : "");
        }
    }
    return {};
}

namespace {

std::string keyword_pairs(const Term& kwargs, std::vector<Keyword>& out) {
    auto add = [&](const Term& key, const Term& value) -> std::string {
        std::string_view name;
        if (!key_name(key, name) || name.empty() || !term::ext::valid_utf8(name))
            return "kwargs keys are non-empty atoms or UTF-8 binaries";
        out.push_back({name, &value});
        return {};
    };
    if (kwargs.kind == Kind::Map) {
        for (std::size_t i = 0; i + 1 < kwargs.items.size(); i += 2)
            if (auto problem = add(kwargs.items[i], kwargs.items[i + 1]); !problem.empty()) return problem;
        return {};
    }
    if (kwargs.kind != Kind::List) return "kwargs is a map or a list of {Key, Value}";
    for (const Term& pair : kwargs.items) {
        if (pair.kind != Kind::Tuple || pair.items.size() != 2) return "kwargs is a map or a list of {Key, Value}";
        if (auto problem = add(pair.items[0], pair.items[1]); !problem.empty()) return problem;
    }
    return {};
}

}  // namespace

}  // namespace pycnode::python
