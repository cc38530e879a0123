#include "dispatch/requests.hpp"

#include "asgi/asgi_request.hpp"
#include "dispatch/loop_requests.hpp"
#include "python/handle_requests.hpp"
#include "term/term_reader.hpp"
#include "wsgi/wsgi_request.hpp"


namespace pycnode::dispatch {
namespace {

// One row per request kind; docs/protocol.md describes each.
const RequestKind request_kinds[] = {
    {"ping", 0, "ping", &answer_ping, nullptr},
    {"stats", 0, "stats", &answer_stats, nullptr},
    {"health", 0, "health", &answer_health, nullptr},
    {"call", 4, "{call, Module :: binary(), Function :: binary(), Args :: list()}", nullptr, &python::run_call,
     RouteBy::CallKind},
    {"call", 5, "{call, Module :: binary(), Function :: binary(), Args :: list(), Opts :: map()}", nullptr,
     &python::run_call, RouteBy::CallKind, 4},
    {"wsgi", 5, "{wsgi, Module :: binary(), Callable :: binary(), Environ :: map(), Opts :: map()}", nullptr,
     &python::run_wsgi, RouteBy::Blocking, 4},
    {"asgi", 6,
     "{asgi, Module :: binary(), Callable :: binary(), Scope :: map() | reference(), Body :: binary(), Opts :: map()}",
     nullptr, &python::run_asgi, RouteBy::Event, 5},
    {"call_method", 4, "{call_method, Handle, Method :: binary(), Args :: list()}", nullptr,
     &python::run_call_method, RouteBy::Event},
    {"call_method", 5, "{call_method, Handle, Method :: binary(), Args :: list(), Opts :: map()}", nullptr,
     &python::run_call_method, RouteBy::Event, 4},
    // An attribute may be a property that blocks; dropping an object may run
    // a __del__ that does: both on the blocking threads.
    {"getattr", 3, "{getattr, Handle, Name :: binary()}", nullptr, &python::run_getattr, RouteBy::Blocking},
    {"getattr", 4, "{getattr, Handle, Name :: binary(), Opts :: map()}", nullptr, &python::run_getattr,
     RouteBy::Blocking, 3},
    {"release", 2, "{release, Handle}", nullptr, &python::run_release, RouteBy::Blocking},
    {"build_scope", 3, "{build_scope, Scope :: map(), Opts :: map()}", nullptr, &python::run_build_scope,
     RouteBy::Event, 2},
};

const RequestKind* find(std::string_view name, std::size_t arity, std::string& detail) {
    const RequestKind* same_name = nullptr;
    for (const auto& kind : request_kinds) {
        if (kind.name != name) continue;
        if (kind.arity == arity) return &kind;
        if (!same_name) same_name = &kind;  // the first form of a kind is the one a detail shows
    }
    detail = same_name ? "expected " + std::string(same_name->shape) : "unknown request " + std::string(name);
    return nullptr;
}

}  // namespace

const RequestKind* classify(std::string_view request, std::string& detail) {
    term::TermReader reader(request);
    std::string_view name;
    if (reader.read_atom(name) == term::DecodeError::Ok) return find(name, 0, detail);

    std::size_t arity = 0;
    if (reader.read_tuple_header(arity) == term::DecodeError::Ok && arity > 0 &&
        reader.read_atom(name) == term::DecodeError::Ok)
        return find(name, arity, detail);

    detail = "a request is an atom or a tuple headed by an atom";
    return nullptr;
}

}  // namespace pycnode::dispatch
