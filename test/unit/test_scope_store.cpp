// The ASGI scope's pure parts: checking a scope map (scope_spec.hpp) and the
// node-wide store of prepared scopes with its references (scope_store.hpp),
// hammered from several threads (also built with ThreadSanitizer).
#include "asgi/scope_spec.hpp"
#include "asgi/scope_store.hpp"
#include "term/ext_format.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using pycnode::python::NodeIdentity;
using pycnode::python::parse_scope;
using pycnode::python::percent_decode;
using pycnode::python::PreparedScope;
using pycnode::python::ScopeSpec;
using pycnode::python::ScopeStore;
using pycnode::term::Kind;
using pycnode::term::Term;

namespace {

Term atom(std::string_view a) { return Term::make_atom(a); }
Term bin(std::string_view b) { return Term::make_binary(b); }

Term scope_map(std::vector<std::pair<std::string_view, Term>> fields) {
    std::vector<Term> kv;
    for (auto& [key, value] : fields) {
        kv.push_back(atom(key));
        kv.push_back(std::move(value));
    }
    return Term::make_map(std::move(kv));
}

std::string problem_with(std::vector<std::pair<std::string_view, Term>> fields) {
    ScopeSpec spec;
    return parse_scope(scope_map(std::move(fields)), spec);
}

std::shared_ptr<const PreparedScope> prepared(std::string_view path) {
    std::string error;
    auto scope = PreparedScope::make(scope_map({{"path", bin(path)}}), error);
    REQUIRE(scope);
    return scope;
}

const NodeIdentity node{"pycnode@host", 0x01020304};

}  // namespace

TEST_CASE("parse_scope fills the defaults of docs/protocol.md") {
    ScopeSpec spec;
    REQUIRE(parse_scope(scope_map({{"path", bin("/a%20b")}}), spec).empty());
    CHECK(spec.type == "http");
    CHECK(spec.http_version == "1.1");
    CHECK(spec.method == "GET");
    CHECK(spec.scheme == "http");
    CHECK(spec.path == "/a%20b");
    CHECK(spec.raw_path == "/a%20b");
    CHECK(spec.query_string.empty());
    CHECK(spec.root_path.empty());
    CHECK(spec.asgi == nullptr);
    CHECK(spec.headers == nullptr);
    CHECK_FALSE(spec.server.present);
    CHECK_FALSE(spec.client.present);
    CHECK(spec.extra.empty());
}

TEST_CASE("parse_scope drops one leading '?' of query_string") {
    ScopeSpec a, b, c;
    REQUIRE(parse_scope(scope_map({{"path", bin("/")}, {"query_string", bin("?q=1")}}), a).empty());
    CHECK(a.query_string == "q=1");
    REQUIRE(parse_scope(scope_map({{"path", bin("/")}, {"query_string", bin("q=1")}}), b).empty());
    CHECK(b.query_string == "q=1");
    REQUIRE(parse_scope(scope_map({{"path", bin("/")}, {"query_string", bin("??q")}}), c).empty());
    CHECK(c.query_string == "?q");  // only one: a second '?' is data
}

TEST_CASE("parse_scope takes every field, binary keys too, and passes unknown keys through") {
    Term headers = Term::make_list({Term::make_list({bin("Host"), bin("h")}), Term::make_tuple({bin("a"), bin("b")})});
    Term scope = Term::make_map({bin("path"), bin("/p"), atom("raw_path"), bin("/raw"), atom("method"), bin("post"),
                                 atom("headers"), headers, atom("server"),
                                 Term::make_tuple({bin("srv"), Term::make_integer(8080)}), atom("client"),
                                 atom("undefined"), atom("subprotocols"), Term::make_list({})});
    ScopeSpec spec;
    REQUIRE(parse_scope(scope, spec).empty());
    CHECK(spec.raw_path == "/raw");
    CHECK(spec.method == "post");
    REQUIRE(spec.headers != nullptr);
    CHECK(spec.headers->items.size() == 2);
    CHECK(spec.server.present);
    CHECK(spec.server.host == "srv");
    CHECK(spec.server.port == 8080);
    CHECK_FALSE(spec.client.present);
    REQUIRE(spec.extra.size() == 1);
    CHECK(spec.extra[0].first == "subprotocols");
}

TEST_CASE("parse_scope says what is wrong") {
    CHECK(problem_with({}) == "scope: path is required");
    CHECK(problem_with({{"path", atom("x")}}) == "scope: path must be a binary");
    CHECK(problem_with({{"path", bin("/")}, {"method", bin("\xff")}}) == "scope: method must be a UTF-8 binary");
    CHECK(problem_with({{"path", bin("/")}, {"headers", Term::make_list({bin("x")})}}).find("header 1") !=
          std::string::npos);
    CHECK(problem_with({{"path", bin("/")}, {"server", Term::make_tuple({bin("h"), Term::make_integer(70000)})}})
              .find("server") != std::string::npos);
    CHECK(problem_with({{"path", bin("/")}, {"asgi", Term::make_map({atom("version"), Term::make_integer(3)})}})
              .find("asgi") != std::string::npos);
    CHECK(problem_with({{"path", bin("/")}, {"state", Term::make_list({})}}) == "scope: state must be a map");
    ScopeSpec spec;
    CHECK(parse_scope(Term::make_list({}), spec) == "the scope must be a map");
    CHECK(parse_scope(Term::make_map({Term::make_integer(1), bin("/")}), spec) ==
          "scope keys must be atoms or UTF-8 binaries");
}

TEST_CASE("percent_decode works as urllib.parse.unquote_to_bytes") {
    auto decoded = [](std::string_view in) {
        std::string out;
        percent_decode(in, out);
        return out;
    };
    CHECK(decoded("/a%20b") == "/a b");
    CHECK(decoded("%E2%82%ac") == "\xE2\x82\xAC");
    CHECK(decoded("%") == "%");
    CHECK(decoded("%4") == "%4");
    CHECK(decoded("%zz%41") == "%zzA");
    CHECK(decoded("100%") == "100%");
    CHECK(decoded("%2F+") == "/+");
}

TEST_CASE("PreparedScope owns its bytes") {
    std::string path = "/owned";
    std::string error;
    auto scope = PreparedScope::make(scope_map({{"path", bin(path)}}), error);
    REQUIRE(scope);
    path.assign("/xxxxx");
    CHECK(scope->spec().path == "/owned");
    CHECK_FALSE(PreparedScope::make(scope_map({}), error));
    CHECK(error == "scope: path is required");
}

TEST_CASE("ScopeStore references name their scope on this node only") {
    ScopeStore store(4, 77);
    store.set_identity(node);
    auto scope = prepared("/a");
    std::string ref = store.insert(scope);
    CHECK(static_cast<std::uint8_t>(ref[0]) == pycnode::term::tag::newer_reference);
    CHECK(store.find(ref) == scope);

    ScopeStore other_salt(4, 78);
    other_salt.set_identity(node);
    CHECK(other_salt.find(ref) == nullptr);

    ScopeStore other_node(4, 77);
    other_node.set_identity({"other@host", node.creation});
    CHECK(other_node.find(ref) == nullptr);

    ScopeStore other_creation(4, 77);
    other_creation.set_identity({node.name, node.creation + 1});
    CHECK(other_creation.find(ref) == nullptr);

    CHECK(store.find(ref.substr(0, ref.size() - 1)) == nullptr);
    CHECK(store.find("") == nullptr);
    std::string pid = ref;
    pid[0] = 88;
    CHECK(store.find(pid) == nullptr);
}

TEST_CASE("ScopeStore finds a reference Erlang re-encoded without trailing zero words") {
    ScopeStore store(4, 5);
    store.set_identity(node);
    std::string ref = store.insert(prepared("/a"));
    std::string shorter = ref.substr(0, ref.size() - 4);  // the high counter word is 0
    shorter[2] = 2;
    CHECK(store.find(shorter) != nullptr);
}

TEST_CASE("ScopeStore evicts the least recently used") {
    ScopeStore store(2, 1);
    store.set_identity(node);
    std::string a = store.insert(prepared("/a"));
    std::string b = store.insert(prepared("/b"));
    REQUIRE(store.find(a));  // a is now the most recent
    std::string c = store.insert(prepared("/c"));
    CHECK(store.size() == 2);
    CHECK(store.find(b) == nullptr);
    CHECK(store.find(a)->spec().path == "/a");
    CHECK(store.find(c)->spec().path == "/c");
    store.set_capacity(1);
    CHECK(store.size() == 1);
    CHECK(store.find(a) == nullptr);
    CHECK(store.find(c) != nullptr);
}

TEST_CASE("ScopeStore under concurrent inserts and finds") {
    ScopeStore store(64, 9);
    store.set_identity(node);
    auto scope = prepared("/shared");
    std::atomic<int> found{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            std::vector<std::string> mine;
            for (int i = 0; i < 500; ++i) {
                mine.push_back(store.insert(scope));
                if (auto hit = store.find(mine[static_cast<std::size_t>(i) / 2])) found += hit->spec().path == "/shared";
            }
        });
    for (auto& t : threads) t.join();
    CHECK(store.size() == 64);
    CHECK(found.load() > 0);
}
