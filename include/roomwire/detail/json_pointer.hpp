#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace roomwire::protocol::detail {

// One step of a JSON Pointer, linked to its parent. Built on the stack while walking, turned
// into text only when something fails, so a successful decode pays nothing for paths.
struct path_node {
  const path_node* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;
};

inline void append_pointer_segment(std::string& out, std::string_view key) {
  out.push_back('/');
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
}

inline void append_pointer(std::string& out, const path_node* node) {
  if (node == nullptr) return;
  append_pointer(out, node->parent);
  if (node->is_index) {
    out.push_back('/');
    out += std::to_string(node->index);
  } else {
    append_pointer_segment(out, node->key);
  }
}

inline std::string to_pointer(const path_node* node) {
  std::string out;
  append_pointer(out, node);
  return out;
}

}  // namespace roomwire::protocol::detail
