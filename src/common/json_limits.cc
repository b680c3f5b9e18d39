#include "common/json_limits.h"

#include <string>

namespace clearsight {

namespace {

// nlohmann's own document builder behind a counter: any callback that returns false ends the
// parse at once (the input is not read further).
class BoundedSax {
 public:
  using json = nlohmann::json;
  BoundedSax(json* out, const JsonLimits& limits) : dom_(*out, false), limits_(limits) {}

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return Value() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Value() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Value() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return Value() && dom_.binary(v); }
  bool start_object(std::size_t n) { return Open() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Open() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    syntax_error_ = "byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  enum class Stop { kNone, kDepth, kValues };
  Stop stop() const { return stop_; }
  const std::string& syntax_error() const { return syntax_error_; }

 private:
  bool Value() {
    if (++values_ > limits_.max_values) {
      stop_ = Stop::kValues;
      return false;
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ > limits_.max_depth) {
      stop_ = Stop::kDepth;
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  JsonLimits limits_;
  int depth_ = 0;
  size_t values_ = 0;
  Stop stop_ = Stop::kNone;
  std::string syntax_error_;
};

}  // namespace

Result<nlohmann::json> ParseJsonBounded(std::string_view text, std::string_view what,
                                        const JsonLimits& limits) {
  nlohmann::json out;
  BoundedSax sax(&out, limits);
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (ok) return out;
  const std::string name(what);
  switch (sax.stop()) {
    case BoundedSax::Stop::kDepth:
      return Status::InvalidArgument(name + " nests arrays and objects deeper than " +
                                     std::to_string(limits.max_depth) + " levels (the limit)");
    case BoundedSax::Stop::kValues:
      return Status::InvalidArgument(name + " holds more than " +
                                     std::to_string(limits.max_values) +
                                     " JSON values (the limit)");
    case BoundedSax::Stop::kNone:
      break;
  }
  return Status::InvalidArgument(
      name + " is not valid JSON" +
      (sax.syntax_error().empty() ? std::string() : " (" + sax.syntax_error() + ")"));
}

}  // namespace clearsight
