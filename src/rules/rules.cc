// The rule language: a hand-written tokenizer and recursive-descent parser into a small
// expression tree, type-checked at parse time (text fields take text, numeric fields numbers),
// evaluated per declaration.
#include "clearsight/rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "clearsight/file_util.h"
#include "clearsight/postal.h"
#include "clearsight/text.h"

namespace clearsight {

namespace {

enum class Tok { kIdent, kString, kNumber, kDate, kPunct, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  double number = 0;
  int32_t date = 0;
  int line = 0, col = 0;
};

class Lexer {
 public:
  Lexer(std::string_view text, std::string_view name) : s_(text), name_(name) {}

  Status Run(std::vector<Token>* out) {
    while (true) {
      SkipSpaceAndComments();
      Token t;
      t.line = line_;
      t.col = Col();
      if (p_ >= s_.size()) {
        t.kind = Tok::kEnd;
        out->push_back(t);
        return Status::Ok();
      }
      char c = s_[p_];
      if (c == '"') {
        ++p_;
        std::string v;
        while (p_ < s_.size() && s_[p_] != '"') {
          if (s_[p_] == '\n') return Error(t, "unterminated string");
          if (s_[p_] == '\\' && p_ + 1 < s_.size()) ++p_;
          v.push_back(s_[p_++]);
        }
        if (p_ >= s_.size()) return Error(t, "unterminated string");
        ++p_;
        t.kind = Tok::kString;
        t.text = std::move(v);
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && p_ + 1 < s_.size() &&
                  std::isdigit(static_cast<unsigned char>(s_[p_ + 1])))) {
        size_t b = p_;
        while (p_ < s_.size() &&
               (std::isalnum(static_cast<unsigned char>(s_[p_])) || s_[p_] == '.' ||
                s_[p_] == '-' || ((s_[p_] == '+') && (s_[p_ - 1] == 'e' || s_[p_ - 1] == 'E'))))
          ++p_;
        t.text = std::string(s_.substr(b, p_ - b));
        if (t.text.size() == 10 && t.text[4] == '-' && t.text[7] == '-') {
          if (!ParseDate(t.text, &t.date)) return Error(t, "'" + t.text + "' is not a date");
          t.kind = Tok::kDate;
        } else {
          if (!ParseDouble(t.text, &t.number)) return Error(t, "'" + t.text + "' is not a number");
          t.kind = Tok::kNumber;
        }
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = p_;
        while (p_ < s_.size() &&
               (std::isalnum(static_cast<unsigned char>(s_[p_])) || s_[p_] == '_'))
          ++p_;
        t.kind = Tok::kIdent;
        t.text = std::string(s_.substr(b, p_ - b));
      } else {
        static const char* kTwo[] = {"<=", ">=", "==", "!="};
        t.kind = Tok::kPunct;
        for (const char* two : kTwo) {
          if (s_.substr(p_, 2) == two) t.text = two;
        }
        if (t.text.empty()) {
          if (std::string_view("()[],<>=+-").find(c) == std::string_view::npos)
            return Error(
                t, std::string("unexpected character '") + Excerpt(std::string_view(&c, 1)) + "'");
          t.text = std::string(1, c);
        }
        p_ += t.text.size();
      }
      out->push_back(std::move(t));
    }
  }

 private:
  void SkipSpaceAndComments() {
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == '\n') {
        ++line_;
        line_start_ = ++p_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++p_;
      } else if (c == '#') {
        while (p_ < s_.size() && s_[p_] != '\n') ++p_;
      } else {
        break;
      }
    }
  }
  int Col() const { return static_cast<int>(p_ - line_start_) + 1; }
  Status Error(const Token& t, const std::string& what) const {
    return Status::InvalidArgument(std::string(name_) + ":" + std::to_string(t.line) + ":" +
                                   std::to_string(t.col) + ": " + what);
  }

  std::string_view s_, name_;
  size_t p_ = 0, line_start_ = 0;
  int line_ = 1;
};

enum class FieldId {
  kDeclarationId,
  kImporter,
  kHs,
  kOrigin,
  kDeclarant,
  kSeller,
  kCourier,
  kOffice,
  kDeparture,
  kMode,
  kCurrency,
  kDescription,
  kConsignment,  // text
  kMass,
  kValue,
  kSupp,
  kTaxRate,
  kUnitPrice,
  kUnitPriceRatio,
  kUndervaluation,
  kRevenueAtRisk,
  kRiskScore,
  kDescriptionQuality,
  kDescriptionVague,  // numbers
  kExtra,             // another column of the input, as text
};

struct FieldName {
  const char* name;
  FieldId id;
};
constexpr FieldName kFields[] = {
    {"declaration_id", FieldId::kDeclarationId},
    {"importer_id", FieldId::kImporter},
    {"hs_code", FieldId::kHs},
    {"origin_country", FieldId::kOrigin},
    {"declarant_id", FieldId::kDeclarant},
    {"seller_id", FieldId::kSeller},
    {"courier_id", FieldId::kCourier},
    {"office_id", FieldId::kOffice},
    {"departure_country", FieldId::kDeparture},
    {"mode_of_transport", FieldId::kMode},
    {"currency", FieldId::kCurrency},
    {"description", FieldId::kDescription},
    {"consignment_id", FieldId::kConsignment},
    {"net_mass_kg", FieldId::kMass},
    {"declared_value", FieldId::kValue},
    {"supplementary_units", FieldId::kSupp},
    {"tax_rate", FieldId::kTaxRate},
    {"unit_price", FieldId::kUnitPrice},
    {"unit_price_ratio", FieldId::kUnitPriceRatio},
    {"undervaluation_score", FieldId::kUndervaluation},
    {"revenue_at_risk", FieldId::kRevenueAtRisk},
    {"risk_score", FieldId::kRiskScore},
    {"description_quality", FieldId::kDescriptionQuality},
    {"description_vague", FieldId::kDescriptionVague},
};

bool IsNumeric(FieldId f) { return f >= FieldId::kMass && f < FieldId::kExtra; }

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn, kStartsWith, kEndsWith, kContains };

struct Expr {
  enum class Kind { kAnd, kOr, kNot, kCmp } kind = Kind::kCmp;
  std::vector<Expr> children;
  FieldId field = FieldId::kImporter;
  std::string extra;  // column name for kExtra
  Op op = Op::kEq;
  std::vector<std::string> texts;
  std::vector<double> numbers;
};

std::string_view TextValue(const Expr& e, const Declaration& d, const DeclarationBatch& batch) {
  switch (e.field) {
    case FieldId::kDeclarationId:
      return d.declaration_id;
    case FieldId::kImporter:
      return d.importer_id;
    case FieldId::kHs:
      return d.hs_code;
    case FieldId::kOrigin:
      return d.origin_country;
    case FieldId::kDeclarant:
      return d.declarant_id;
    case FieldId::kSeller:
      return d.seller_id;
    case FieldId::kCourier:
      return d.courier_id;
    case FieldId::kOffice:
      return d.office_id;
    case FieldId::kDeparture:
      return d.departure_country;
    case FieldId::kMode:
      return d.mode_of_transport;
    case FieldId::kCurrency:
      return d.currency;
    case FieldId::kDescription:
      return d.description;
    case FieldId::kConsignment:
      return d.consignment_id;
    case FieldId::kExtra:
      return batch.Extra(d, batch.ExtraIndex(e.extra));
    default:
      return {};
  }
}

double NumberValue(FieldId f, const Declaration& d, const DerivedFeatures& x) {
  switch (f) {
    case FieldId::kMass:
      return d.net_mass_kg;
    case FieldId::kValue:
      return d.declared_value;
    case FieldId::kSupp:
      return d.supplementary_units;
    case FieldId::kTaxRate:
      return d.tax_rate;
    case FieldId::kUnitPrice:
      return d.net_mass_kg > 0 ? d.declared_value / d.net_mass_kg : kMissing;
    case FieldId::kUnitPriceRatio:
      return x.unit_price_ratio;
    case FieldId::kUndervaluation:
      return x.undervaluation_score;
    case FieldId::kRevenueAtRisk:
      return x.revenue_at_risk;
    case FieldId::kRiskScore:
      return x.risk_score;
    case FieldId::kDescriptionQuality:
      return RateDescription(d.description).score;
    case FieldId::kDescriptionVague:
      return RateDescription(d.description).vague ? 1 : 0;
    default:
      return kMissing;
  }
}

bool Eval(const Expr& e, const Declaration& d, const DeclarationBatch& batch,
          const DerivedFeatures& x) {
  switch (e.kind) {
    case Expr::Kind::kAnd:
      for (const auto& c : e.children)
        if (!Eval(c, d, batch, x)) return false;
      return true;
    case Expr::Kind::kOr:
      for (const auto& c : e.children)
        if (Eval(c, d, batch, x)) return true;
      return false;
    case Expr::Kind::kNot:
      return !Eval(e.children[0], d, batch, x);
    case Expr::Kind::kCmp:
      break;
  }
  if (IsNumeric(e.field)) {
    double v = NumberValue(e.field, d, x);
    if (std::isnan(v)) return false;
    switch (e.op) {
      case Op::kEq:
        return v == e.numbers[0];
      case Op::kNe:
        return v != e.numbers[0];
      case Op::kLt:
        return v < e.numbers[0];
      case Op::kLe:
        return v <= e.numbers[0];
      case Op::kGt:
        return v > e.numbers[0];
      case Op::kGe:
        return v >= e.numbers[0];
      case Op::kIn:
      case Op::kNotIn: {
        bool in = std::find(e.numbers.begin(), e.numbers.end(), v) != e.numbers.end();
        return e.op == Op::kIn ? in : !in;
      }
      default:
        return false;
    }
  }
  std::string_view v = TextValue(e, d, batch);
  if (!e.numbers.empty()) {  // an extra column compared with a number
    double n;
    if (!ParseDouble(v, &n)) return false;
    switch (e.op) {
      case Op::kEq:
        return n == e.numbers[0];
      case Op::kNe:
        return n != e.numbers[0];
      case Op::kLt:
        return n < e.numbers[0];
      case Op::kLe:
        return n <= e.numbers[0];
      case Op::kGt:
        return n > e.numbers[0];
      case Op::kGe:
        return n >= e.numbers[0];
      default:
        return false;
    }
  }
  switch (e.op) {
    case Op::kEq:
      return v == e.texts[0];
    case Op::kNe:
      return v != e.texts[0];
    case Op::kLt:
      return v < e.texts[0];
    case Op::kLe:
      return v <= e.texts[0];
    case Op::kGt:
      return v > e.texts[0];
    case Op::kGe:
      return v >= e.texts[0];
    case Op::kIn:
    case Op::kNotIn: {
      bool in = std::find(e.texts.begin(), e.texts.end(), v) != e.texts.end();
      return e.op == Op::kIn ? in : !in;
    }
    case Op::kStartsWith:
      for (const auto& t : e.texts)
        if (StartsWith(v, t)) return true;
      return false;
    case Op::kEndsWith:
      for (const auto& t : e.texts)
        if (v.size() >= t.size() && v.substr(v.size() - t.size()) == t) return true;
      return false;
    case Op::kContains: {
      std::string lower = ToLower(v);
      for (const auto& t : e.texts)
        if (lower.find(ToLower(t)) != std::string::npos) return true;
      return false;
    }
  }
  return false;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, std::string_view text, std::string_view name)
      : t_(std::move(toks)), text_(text), name_(name) {}
  const std::vector<RuleSet::UnknownField>& unknown_fields() const { return unknown_; }

  Status ParseFile(std::vector<Rule>* rules, std::vector<Expr>* conditions) {
    while (Peek().kind != Tok::kEnd) {
      Rule r;
      Expr cond;
      CS_RETURN_IF_ERROR(ParseRule(&r, &cond));
      for (const auto& other : *rules)
        if (other.name == r.name)
          return Status::InvalidArgument(
              std::string(name_) + ":" + std::to_string(r.line) + ": rule '" + r.name +
              "' is defined twice (first at line " + std::to_string(other.line) + ")");
      rules->push_back(std::move(r));
      conditions->push_back(std::move(cond));
    }
    return Status::Ok();
  }

 private:
  const Token& Peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  const Token& Next() { return t_[std::min(i_++, t_.size() - 1)]; }
  static constexpr int kMaxNesting = 64;  // '(' and 'not' levels in one condition
  int depth_ = 0;

  bool IsWord(const Token& t, const char* w) const { return t.kind == Tok::kIdent && t.text == w; }
  bool IsPunct(const Token& t, const char* p) const { return t.kind == Tok::kPunct && t.text == p; }
  Status Error(const Token& t, const std::string& what) const {
    std::string found = t.kind == Tok::kEnd ? "end of file" : "'" + t.text + "'";
    return Status::InvalidArgument(std::string(name_) + ":" + std::to_string(t.line) + ":" +
                                   std::to_string(t.col) + ": " + what + ", found " + found);
  }

  Status ExpectString(std::string* out, const char* what) {
    const Token& t = Next();
    if (t.kind != Tok::kString)
      return Error(t, std::string("expected ") + what + " in double quotes");
    *out = t.text;
    return Status::Ok();
  }

  Status ParseRule(Rule* r, Expr* cond) {
    const Token& start = Next();
    if (!IsWord(start, "rule")) return Error(start, "expected 'rule'");
    r->line = start.line;
    CS_RETURN_IF_ERROR(ExpectString(&r->name, "the rule's name"));
    bool has_when = false, has_then = false;
    while (true) {
      const Token& t = Peek();
      if (IsWord(t, "end")) {
        Next();
        break;
      }
      if (IsWord(t, "when")) {
        if (has_when) return Error(t, "a rule has one 'when' (join conditions with 'and' / 'or')");
        Next();
        size_t b = Offset(Peek());
        CS_RETURN_IF_ERROR(ParseOr(cond));
        std::string_view cond = text_.substr(b, Offset(Peek()) - b);
        while (!cond.empty() && std::isspace(static_cast<unsigned char>(cond.back())))
          cond.remove_suffix(1);
        r->condition_text = std::string(cond);
        has_when = true;
      } else if (IsWord(t, "then")) {
        Next();
        CS_RETURN_IF_ERROR(ParseAction(&r->action));
        has_then = true;
      } else if (IsWord(t, "reason")) {
        Next();
        CS_RETURN_IF_ERROR(ExpectString(&r->reason, "the reason text"));
      } else if (IsWord(t, "owner")) {
        Next();
        CS_RETURN_IF_ERROR(ExpectString(&r->owner, "the owner"));
      } else if (IsWord(t, "valid")) {
        Next();
        if (IsWord(Peek(), "from")) Next();
        if (Peek().kind == Tok::kDate) r->valid_from = Next().date;
        if (IsWord(Peek(), "to")) {
          Next();
          const Token& d = Next();
          if (d.kind != Tok::kDate) return Error(d, "expected a date (YYYY-MM-DD) after 'to'");
          r->valid_to = d.date;
        }
        if (r->valid_from > r->valid_to)
          return Error(t, "the rule's validity ends before it starts");
      } else {
        return Error(t, "expected when, then, reason, owner, valid or end");
      }
    }
    if (!has_when) return Error(start, "rule '" + r->name + "' has no 'when' condition");
    if (!has_then) return Error(start, "rule '" + r->name + "' has no 'then' action");
    if (r->reason.empty()) r->reason = r->name;
    return Status::Ok();
  }

  size_t Offset(const Token& t) const {
    // Byte offset of a token from its line and column.
    size_t line = 1, p = 0;
    while (line < static_cast<size_t>(t.line) && p < text_.size()) {
      if (text_[p++] == '\n') ++line;
    }
    return t.kind == Tok::kEnd ? text_.size() : std::min(text_.size(), p + t.col - 1);
  }

  Status ParseAction(RuleAction* a) {
    const Token& t = Next();
    if (IsWord(t, "channel")) {
      const Token& c = Next();
      auto ch = ParseChannel(c.text);
      if (c.kind != Tok::kIdent || !ch.ok()) return Error(c, "expected red, yellow or green");
      a->kind = RuleAction::Kind::kChannel;
      a->channel = *ch;
      return Status::Ok();
    }
    if (IsWord(t, "score")) {
      double sign = 1;
      if (IsPunct(Peek(), "+"))
        Next();
      else if (IsPunct(Peek(), "-")) {
        Next();
        sign = -1;
      }
      const Token& n = Next();
      if (n.kind != Tok::kNumber) return Error(n, "expected a number after 'score'");
      a->kind = RuleAction::Kind::kScore;
      a->weight = sign * n.number;
      return Status::Ok();
    }
    return Error(t, "expected 'channel red|yellow|green' or 'score +N'");
  }

  Status ParseOr(Expr* out) {
    Expr first;
    CS_RETURN_IF_ERROR(ParseAnd(&first));
    if (!IsWord(Peek(), "or")) {
      *out = std::move(first);
      return Status::Ok();
    }
    out->kind = Expr::Kind::kOr;
    out->children.push_back(std::move(first));
    while (IsWord(Peek(), "or")) {
      Next();
      Expr e;
      CS_RETURN_IF_ERROR(ParseAnd(&e));
      out->children.push_back(std::move(e));
    }
    return Status::Ok();
  }

  Status ParseAnd(Expr* out) {
    Expr first;
    CS_RETURN_IF_ERROR(ParseUnary(&first));
    if (!IsWord(Peek(), "and")) {
      *out = std::move(first);
      return Status::Ok();
    }
    out->kind = Expr::Kind::kAnd;
    out->children.push_back(std::move(first));
    while (IsWord(Peek(), "and")) {
      Next();
      Expr e;
      CS_RETURN_IF_ERROR(ParseUnary(&e));
      out->children.push_back(std::move(e));
    }
    return Status::Ok();
  }

  Status ParseUnary(Expr* out) {
    if (!IsWord(Peek(), "not") && !IsPunct(Peek(), "(")) return ParseComparison(out);
    // Each '(' and 'not' is a level of recursion here, in Eval and in the tree's destructor: a
    // profile (PUT /api/rules takes 4 MiB) of nothing but '(' overflowed the stack.
    if (depth_ >= kMaxNesting)
      return Error(Peek(), "the condition nests '(' and 'not' deeper than " +
                               std::to_string(kMaxNesting) + " levels");
    ++depth_;
    Status s = ParseNested(out);
    --depth_;
    return s;
  }

  Status ParseNested(Expr* out) {
    if (IsWord(Peek(), "not")) {
      Next();
      out->kind = Expr::Kind::kNot;
      out->children.emplace_back();
      return ParseUnary(&out->children[0]);
    }
    Next();  // '('
    CS_RETURN_IF_ERROR(ParseOr(out));
    const Token& c = Next();
    if (!IsPunct(c, ")")) return Error(c, "expected ')'");
    return Status::Ok();
  }

  Status ParseValue(std::vector<std::string>* texts, std::vector<double>* numbers) {
    bool neg = false;
    if (IsPunct(Peek(), "-")) {
      Next();
      neg = true;
    }
    const Token& v = Next();
    if (v.kind == Tok::kString && !neg) {
      texts->push_back(v.text);
    } else if (v.kind == Tok::kNumber) {
      numbers->push_back(neg ? -v.number : v.number);
      texts->push_back(v.text);  // "8517" in a list of codes may be written without quotes
    } else {
      return Error(v, "expected a value (a \"string\" or a number)");
    }
    return Status::Ok();
  }

  Status ParseComparison(Expr* e) {
    const Token& f = Next();
    static const char* kReserved[] = {"rule", "when", "then", "reason", "owner", "valid",
                                      "end",  "and",  "or",   "not",    "in"};
    bool reserved = false;
    for (const char* w : kReserved) reserved |= IsWord(f, w);
    if (f.kind != Tok::kIdent || reserved) return Error(f, "expected a field name");
    e->kind = Expr::Kind::kCmp;
    e->field = FieldId::kExtra;
    e->extra = f.text;
    for (const auto& n : kFields)
      if (f.text == n.name) e->field = n.id;
    if (e->field == FieldId::kExtra &&
        std::none_of(unknown_.begin(), unknown_.end(),
                     [&](const RuleSet::UnknownField& u) { return u.name == f.text; }))
      unknown_.push_back({f.text, std::string(name_) + ":" + std::to_string(f.line) + ":" +
                                      std::to_string(f.col)});
    const Token& o = Next();
    bool list = false;
    if (o.kind == Tok::kPunct && (o.text == "=" || o.text == "=="))
      e->op = Op::kEq;
    else if (IsPunct(o, "!="))
      e->op = Op::kNe;
    else if (IsPunct(o, "<"))
      e->op = Op::kLt;
    else if (IsPunct(o, "<="))
      e->op = Op::kLe;
    else if (IsPunct(o, ">"))
      e->op = Op::kGt;
    else if (IsPunct(o, ">="))
      e->op = Op::kGe;
    else if (IsWord(o, "in"))
      e->op = Op::kIn, list = true;
    else if (IsWord(o, "not") && IsWord(Peek(), "in"))
      Next(), e->op = Op::kNotIn, list = true;
    else if (IsWord(o, "startswith"))
      e->op = Op::kStartsWith;
    else if (IsWord(o, "endswith"))
      e->op = Op::kEndsWith;
    else if (IsWord(o, "contains"))
      e->op = Op::kContains;
    else
      return Error(o,
                   "expected a comparison (=, !=, <, <=, >, >=, in, not in, startswith, endswith, "
                   "contains)");
    const Token& at = Peek();
    std::vector<std::string> texts;
    std::vector<double> numbers;
    bool is_list = IsPunct(Peek(), "[");
    if (is_list) {
      Next();
      while (true) {
        CS_RETURN_IF_ERROR(ParseValue(&texts, &numbers));
        const Token& sep = Next();
        if (IsPunct(sep, "]")) break;
        if (!IsPunct(sep, ",")) return Error(sep, "expected ',' or ']' in the list");
      }
    } else {
      CS_RETURN_IF_ERROR(ParseValue(&texts, &numbers));
    }
    if (list && !is_list) return Error(at, "expected a list [..] after 'in'");
    bool text_op = e->op == Op::kStartsWith || e->op == Op::kEndsWith || e->op == Op::kContains;
    if (!list && !text_op && is_list) return Error(at, "a list needs 'in' or 'not in'");
    bool all_numbers = numbers.size() == texts.size();
    if (IsNumeric(e->field)) {
      if (text_op)
        return Error(o, "field '" + f.text + "' is a number; '" + o.text + "' needs a text field");
      if (!all_numbers)
        return Error(at, "field '" + f.text + "' is a number; compare it with a number");
      e->numbers = std::move(numbers);
    } else {
      // Text fields compare as text; a bare number is taken as its digits ("8517"), except
      // that an extra column compared with <, > etc. and a number compares numerically.
      bool ordering = e->op == Op::kLt || e->op == Op::kLe || e->op == Op::kGt || e->op == Op::kGe;
      if (e->field == FieldId::kExtra && all_numbers && ordering) {
        e->numbers = std::move(numbers);
      } else if (e->field != FieldId::kExtra && ordering && all_numbers) {
        return Error(o,
                     "field '" + f.text + "' is text; compare it with \"text\" or use startswith");
      }
      e->texts = std::move(texts);
    }
    return Status::Ok();
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  std::string_view text_, name_;
  std::vector<RuleSet::UnknownField> unknown_;
};

}  // namespace

struct RuleSet::Impl {
  std::vector<Rule> rules;
  std::vector<Expr> conditions;
  std::vector<UnknownField> unknown_fields;
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;

Result<RuleSet> RuleSet::Parse(std::string_view text, std::string_view name) {
  if (!IsValidUtf8(text))
    return Status::InvalidArgument(std::string(name) + ": rule file is not valid UTF-8");
  std::vector<Token> toks;
  CS_RETURN_IF_ERROR(Lexer(text, name).Run(&toks));
  RuleSet set;
  Parser parser(std::move(toks), text, name);
  CS_RETURN_IF_ERROR(parser.ParseFile(&set.impl_->rules, &set.impl_->conditions));
  set.impl_->unknown_fields = parser.unknown_fields();
  return set;
}

Result<RuleSet> RuleSet::Load(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16 << 20));
  return Parse(text, path);
}

const std::vector<Rule>& RuleSet::rules() const { return impl_->rules; }
const std::vector<RuleSet::UnknownField>& RuleSet::unknown_fields() const {
  return impl_->unknown_fields;
}

std::vector<int> RuleSet::Match(const Declaration& d, const DeclarationBatch& batch,
                                const DerivedFeatures& derived) const {
  std::vector<int> out;
  for (size_t i = 0; i < impl_->rules.size(); ++i) {
    const Rule& r = impl_->rules[i];
    if (d.date < r.valid_from || d.date > r.valid_to) continue;
    if (Eval(impl_->conditions[i], d, batch, derived)) out.push_back(static_cast<int>(i));
  }
  return out;
}

void RuleStats::Count(const std::vector<int>& matched, const Declaration& d, size_t num_rules) {
  if (hits.size() < num_rules) {
    hits.resize(num_rules, 0);
    confirmed.resize(num_rules, 0);
    with_outcome.resize(num_rules, 0);
  }
  for (int i : matched) {
    ++hits[i];
    if (d.fraud >= 0) ++with_outcome[i];
    if (d.fraud == 1) ++confirmed[i];
  }
}

}  // namespace clearsight
