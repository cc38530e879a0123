#include "dist/node_terms.hpp"

#include "term/ext_format.hpp"
#include "term/term_reader.hpp"
#include "term/term_writer.hpp"

#include <random>

namespace pycnode::dist {
namespace {

constexpr std::size_t id_words = 3;
constexpr std::size_t max_id_words = 5;

void put_u32(std::string& out, std::uint32_t v) {
    char bytes[4];
    term::ext::store_be(bytes, v, 4);
    out.append(bytes, 4);
}

}  // namespace

std::uint32_t random_reference_salt() {
    std::random_device device;
    return device() & reference_salt_mask;
}

std::string encode_reference(const NodeIdentity& node, std::uint32_t salt, std::uint64_t id) {
    std::string out;
    out.push_back(static_cast<char>(term::tag::newer_reference));
    char count[2];
    term::ext::store_be(count, id_words, 2);
    out.append(count, 2);
    term::TermWriter(out).atom(node.name);
    put_u32(out, node.creation);
    put_u32(out, salt & reference_salt_mask);
    put_u32(out, static_cast<std::uint32_t>(id));
    put_u32(out, static_cast<std::uint32_t>(id >> 32));
    return out;
}

// Erlang may drop trailing zero words when it re-encodes a reference
// (they do not count in comparisons), so missing words read as zero.
bool parse_reference(std::string_view reference, const NodeIdentity& node, std::uint32_t salt, std::uint64_t& id) {
    if (reference.size() < 3 || static_cast<std::uint8_t>(reference[0]) != term::tag::newer_reference) return false;
    std::size_t count = term::ext::load_be(reference.data() + 1, 2);
    if (count == 0 || count > max_id_words) return false;
    term::TermReader reader(reference.substr(3));
    std::string_view name;
    if (reader.read_atom(name) != term::DecodeError::Ok || name != node.name) return false;
    std::string_view rest = reference.substr(3 + reader.position());
    if (rest.size() != 4 + 4 * count) return false;
    if (term::ext::load_be(rest.data(), 4) != node.creation) return false;
    std::uint32_t words[max_id_words] = {};
    for (std::size_t i = 0; i < count; ++i) words[i] = term::ext::load_be(rest.data() + 4 + 4 * i, 4);
    if ((words[0] & reference_salt_mask) != (salt & reference_salt_mask) || words[3] != 0 || words[4] != 0)
        return false;
    id = words[1] | (std::uint64_t{words[2]} << 32);
    return true;
}

std::string_view pid_node(std::string_view pid) {
    if (pid.empty() || !term::tag::is_pid(static_cast<std::uint8_t>(pid[0]))) return {};
    term::TermReader reader(pid.substr(1));
    std::string_view name;
    return reader.read_atom(name) == term::DecodeError::Ok ? name : std::string_view();
}

std::string encode_pid(const NodeIdentity& node, std::uint32_t number) {
    std::string out;
    out.push_back(static_cast<char>(term::tag::new_pid));
    term::TermWriter(out).atom(node.name);
    put_u32(out, number);
    put_u32(out, 0);  // serial
    put_u32(out, node.creation);
    return out;
}

}  // namespace pycnode::dist
