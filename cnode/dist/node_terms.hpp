// Terms that name things of this node: references and a pid of our own,
// encoded and recognised again when they come back.
//
// References are NEWER_REFERENCE_EXT: our node name, our creation and three
// ID words, [salt, id low, id high]. The salt is random per store and fits
// the 18 bits Erlang keeps of a reference's first word, so a reference from
// an earlier pycnode of the same name and creation is still foreign.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pycnode::dist {

struct NodeIdentity {
    std::string name;            // e.g. "pycnode@host"
    std::uint32_t creation = 0;  // as registered with epmd
};

// Erlang keeps 18 bits of a reference's first word.
inline constexpr std::uint32_t reference_salt_mask = (1u << 18) - 1;

// A random salt (low 18 bits), for a store whose references must not match
// those of an earlier process.
std::uint32_t random_reference_salt();

// The reference [salt, id] of `node` (external format, no 131).
std::string encode_reference(const NodeIdentity& node, std::uint32_t salt, std::uint64_t id);

// The id of a reference made by encode_reference with this node and salt;
// false for any other term.
bool parse_reference(std::string_view reference, const NodeIdentity& node, std::uint32_t salt, std::uint64_t& id);

// The node name in a pid's external format (no 131); empty if `pid` is not
// a pid.
std::string_view pid_node(std::string_view pid);

// A pid of `node` (NEW_PID_EXT, no 131): the origin of the monitors pycnode
// sets itself. No process answers to it; messages to it are dropped.
std::string encode_pid(const NodeIdentity& node, std::uint32_t number);

}  // namespace pycnode::dist
