// Writing JSON text directly into a string, for the hot paths (a declaration's decision, the
// queue): no DOM is built, and JSON the store already holds (reasons) is spliced in as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clearsight::service {

// "text" with JSON escapes; invalid UTF-8 bytes become U+FFFD (as nlohmann's replace handler).
void AppendJsonString(std::string* out, std::string_view s);
// Shortest round-trip form; NaN and infinities as null (as nlohmann dumps them).
void AppendJsonNumber(std::string* out, double v);
void AppendJsonInt(std::string* out, int64_t v);

// Members of one object: {"a":1,"b":"x"}. Keys are written as given (they are literals here).
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  JsonObjectWriter& String(std::string_view key, std::string_view v) {
    Key(key);
    AppendJsonString(out_, v);
    return *this;
  }
  JsonObjectWriter& Number(std::string_view key, double v) {
    Key(key);
    AppendJsonNumber(out_, v);
    return *this;
  }
  JsonObjectWriter& Int(std::string_view key, int64_t v) {
    Key(key);
    AppendJsonInt(out_, v);
    return *this;
  }
  JsonObjectWriter& Bool(std::string_view key, bool v) {
    Key(key);
    out_->append(v ? "true" : "false");
    return *this;
  }
  JsonObjectWriter& Null(std::string_view key) {
    Key(key);
    out_->append("null");
    return *this;
  }
  JsonObjectWriter& StringArray(std::string_view key, const std::vector<std::string>& v) {
    Key(key);
    out_->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out_->push_back(',');
      AppendJsonString(out_, v[i]);
    }
    out_->push_back(']');
    return *this;
  }
  // Already valid JSON text (an array or object we wrote ourselves); "" writes `fallback`.
  JsonObjectWriter& Raw(std::string_view key, std::string_view json,
                        std::string_view fallback = "null") {
    Key(key);
    out_->append(json.empty() ? fallback : json);
    return *this;
  }
  void Close() { out_->push_back('}'); }

 private:
  void Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace clearsight::service
