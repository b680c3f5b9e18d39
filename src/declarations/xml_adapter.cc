// libxml2 behind the small tree of xml_adapter.h: a streaming reader (xmlTextReader) that expands
// one record at a time, and xmlTextWriter for output.
#include "xml_adapter.h"

#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>

#include <algorithm>
#include <memory>

#include "clearsight/text.h"

namespace clearsight::xml {

const Node* Node::Child(std::string_view child_name) const {
  for (const auto& c : children)
    if (c.name == child_name) return &c;
  return nullptr;
}

std::string_view Node::Attribute(std::string_view attribute) const {
  for (const auto& [k, v] : attributes)
    if (k == attribute) return v;
  return {};
}

bool Node::HasAttribute(std::string_view attribute) const {
  return std::any_of(attributes.begin(), attributes.end(),
                     [&](const auto& a) { return a.first == attribute; });
}

Node& Node::Add(std::string child_name, std::string child_text) {
  Node& n = children.emplace_back();
  n.name = std::move(child_name);
  n.text = std::move(child_text);
  return n;
}

namespace {

const char* Chars(const xmlChar* s) { return reinterpret_cast<const char*>(s); }
const xmlChar* XChars(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }

struct ReaderErrors {
  std::string message;
  int line = 0;
};

void OnError(void* context, xmlErrorPtr error) {
  auto* errors = static_cast<ReaderErrors*>(context);
  if (error == nullptr || error->level == XML_ERR_WARNING || !errors->message.empty()) return;
  std::string m = error->message ? error->message : "malformed XML";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  errors->message = m;
  errors->line = error->line;
}

void Convert(const xmlNode* from, Node* to) {
  to->name = Chars(from->name);
  to->line = xmlGetLineNo(from);
  for (const xmlAttr* a = from->properties; a != nullptr; a = a->next) {
    xmlChar* v = xmlNodeListGetString(from->doc, a->children, 1);
    to->attributes.emplace_back(Chars(a->name), v ? Chars(v) : "");
    xmlFree(v);
  }
  for (const xmlNode* c = from->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) {
      Convert(c, &to->children.emplace_back());
    } else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
      to->text += Chars(c->content);
    }
  }
  // The indentation between child elements is layout, not text.
  if (!to->children.empty() && Trim(to->text).empty()) to->text.clear();
}

}  // namespace

Status ReadRecords(std::string_view data, std::string_view name,
                   const std::function<Status(const Node& root)>& on_root,
                   const std::function<Status(Node&& record)>& on_record) {
  if (data.size() > static_cast<size_t>(INT32_MAX))
    return Status::InvalidArgument(std::string(name) + ": XML documents over 2 GiB are not read");
  const std::string url(name);
  // No network, no external entities or DTD loading (the defaults), and line numbers past 65535.
  std::unique_ptr<xmlTextReader, void (*)(xmlTextReaderPtr)> reader(
      xmlReaderForMemory(data.data(), static_cast<int>(data.size()), url.c_str(), nullptr,
                         XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA),
      xmlFreeTextReader);
  if (!reader) return Status::Internal(std::string(name) + ": could not start the XML reader");
  ReaderErrors errors;
  xmlTextReaderSetStructuredErrorHandler(reader.get(), OnError, &errors);
  auto xml_error = [&](int line) {
    return Status::InvalidArgument(std::string(name) + ":" +
                                   std::to_string(errors.line > 0 ? errors.line : line) +
                                   ": XML error: " + errors.message);
  };
  bool root_seen = false;
  int ret = xmlTextReaderRead(reader.get());
  while (ret == 1) {
    const int type = xmlTextReaderNodeType(reader.get());
    const int depth = xmlTextReaderDepth(reader.get());
    if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
      return Status::InvalidArgument(
          std::string(name) + ":" + std::to_string(xmlTextReaderGetParserLineNumber(reader.get())) +
          ": a DOCTYPE is not accepted in declaration messages");
    }
    if (type == XML_READER_TYPE_ELEMENT && depth == 0 && !root_seen) {
      root_seen = true;
      Node root;
      const xmlNode* n = xmlTextReaderCurrentNode(reader.get());
      root.name = Chars(n->name);
      root.line = xmlGetLineNo(n);
      for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        xmlChar* v = xmlNodeListGetString(n->doc, a->children, 1);
        root.attributes.emplace_back(Chars(a->name), v ? Chars(v) : "");
        xmlFree(v);
      }
      CS_RETURN_IF_ERROR(on_root(root));
    } else if (type == XML_READER_TYPE_ELEMENT && depth == 1) {
      const xmlNode* n = xmlTextReaderExpand(reader.get());
      if (n == nullptr) return xml_error(xmlTextReaderGetParserLineNumber(reader.get()));
      Node record;
      Convert(n, &record);
      CS_RETURN_IF_ERROR(on_record(std::move(record)));
      ret = xmlTextReaderNext(reader.get());
      continue;
    }
    ret = xmlTextReaderRead(reader.get());
  }
  if (ret < 0 || !errors.message.empty()) {
    if (errors.message.empty()) errors.message = "malformed XML";
    return xml_error(xmlTextReaderGetParserLineNumber(reader.get()));
  }
  if (!root_seen) return Status::InvalidArgument(std::string(name) + ": holds no XML element");
  return Status::Ok();
}

namespace {

class Writer {
 public:
  Writer() : buffer_(xmlBufferCreate()), writer_(nullptr) {
    if (buffer_) writer_ = xmlNewTextWriterMemory(buffer_, 0);
    if (writer_) {
      xmlTextWriterSetIndent(writer_, 1);
      xmlTextWriterSetIndentString(writer_, reinterpret_cast<const xmlChar*>("  "));
    }
  }
  ~Writer() {
    if (writer_) xmlFreeTextWriter(writer_);
    if (buffer_) xmlBufferFree(buffer_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  bool ok() const { return writer_ != nullptr; }

  bool Document(const Node& root, bool declaration, bool lines) {
    lines_wanted_ = lines;
    if (declaration && xmlTextWriterStartDocument(writer_, "1.0", "UTF-8", nullptr) < 0)
      return false;
    if (!Element(const_cast<Node*>(&root))) return false;
    return xmlTextWriterEndDocument(writer_) >= 0;
  }

  std::string Take() {
    xmlTextWriterFlush(writer_);
    return std::string(Chars(xmlBufferContent(buffer_)),
                       static_cast<size_t>(xmlBufferLength(buffer_)));
  }

 private:
  // The line the writer is on: newlines written so far, counted incrementally.
  int64_t Line() {
    xmlTextWriterFlush(writer_);
    const char* content = Chars(xmlBufferContent(buffer_));
    const size_t size = static_cast<size_t>(xmlBufferLength(buffer_));
    lines_ += std::count(content + counted_, content + size, '\n');
    counted_ = size;
    return lines_ + 1;
  }

  bool Element(Node* n) {
    if (xmlTextWriterStartElement(writer_, XChars(n->name)) < 0) return false;
    if (lines_wanted_) n->line = Line();  // only for WriteWithLines, whose tree is not const
    for (const auto& [k, v] : n->attributes)
      if (xmlTextWriterWriteAttribute(writer_, XChars(k), XChars(v)) < 0) return false;
    if (!n->text.empty() && xmlTextWriterWriteString(writer_, XChars(n->text)) < 0) return false;
    for (auto& c : n->children)
      if (!Element(&c)) return false;
    // A leaf keeps its text on one line: <a>text</a>; an empty one closes as <a/>.
    return (n->children.empty() && !n->text.empty() ? xmlTextWriterFullEndElement(writer_)
                                                    : xmlTextWriterEndElement(writer_)) >= 0;
  }

  xmlBufferPtr buffer_;
  xmlTextWriterPtr writer_;
  int64_t lines_ = 0;
  size_t counted_ = 0;
  bool lines_wanted_ = false;
};

}  // namespace

Result<std::string> Write(const Node& root, bool declaration) {
  Writer w;
  if (!w.ok() || !w.Document(root, declaration, false))
    return Status::Internal("could not write the XML document <" + root.name + ">");
  return w.Take();
}

Result<std::string> WriteWithLines(Node* root, bool declaration) {
  Writer w;
  if (!w.ok() || !w.Document(*root, declaration, true))
    return Status::Internal("could not write the XML document <" + root->name + ">");
  return w.Take();
}

}  // namespace clearsight::xml
