// The libxml2 adapter: XML messages read into small trees of our own and written from them. Nothing
// else includes libxml2's headers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::xml {

// One element: its name (without a namespace prefix), attributes, the text directly inside it
// (character data and CDATA, concatenated, untrimmed), its child elements, and the line its start
// tag is on.
struct Node {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;
  std::vector<Node> children;
  int64_t line = 0;

  // The first child element of that name, or null.
  const Node* Child(std::string_view child_name) const;
  // The attribute's value; "" when absent (see HasAttribute).
  std::string_view Attribute(std::string_view attribute) const;
  bool HasAttribute(std::string_view attribute) const;
  Node& Add(std::string child_name, std::string child_text = {});
};

// Streams a document: `on_root` sees the root element (name, attributes and line; no children)
// before anything else, then `on_record` each child element of the root in turn, as a whole tree,
// which is freed after the call; memory stays bounded by one record. Either callback may stop the
// read by returning an error, which is returned. A document that is not well-formed XML fails
// with "<name>:<line>: XML error: <libxml2's message>"; records before the error have been seen.
// No network access and no external entities; a DOCTYPE is refused.
Status ReadRecords(std::string_view data, std::string_view name,
                   const std::function<Status(const Node& root)>& on_root,
                   const std::function<Status(Node&& record)>& on_record);

// The tree as an indented UTF-8 document (one element per line; a leaf element's text on its
// line), with an XML declaration unless `declaration` is false.
Result<std::string> Write(const Node& root, bool declaration = true);
// The same, and sets each node's `line` to the line its start tag is written on (the declaration
// is line 1): what a reader of the document will report for it. Slower: it counts as it writes.
Result<std::string> WriteWithLines(Node* root, bool declaration = true);

}  // namespace clearsight::xml
