#include "common/csv.h"

#include <cstring>

namespace clearsight {

CsvReader::CsvReader(std::string_view data, size_t max_record_bytes)
    : data_(data), max_record_bytes_(max_record_bytes) {
  // A UTF-8 byte order mark is not part of the first column's name.
  if (data_.size() >= 3 && static_cast<unsigned char>(data_[0]) == 0xEF &&
      static_cast<unsigned char>(data_[1]) == 0xBB &&
      static_cast<unsigned char>(data_[2]) == 0xBF) {
    pos_ = 3;
  }
}

bool CsvReader::Next(CsvRecord* rec) {
  rec->fields.clear();
  rec->error.clear();
  const char* base = data_.data();
  const size_t n = data_.size();
  while (pos_ < n) {
    const char* nl = static_cast<const char*>(std::memchr(base + pos_, '\n', n - pos_));
    size_t eol = nl ? static_cast<size_t>(nl - base) : n;
    size_t next = nl ? eol + 1 : n;
    size_t end = eol;
    if (end > pos_ && base[end - 1] == '\r') --end;
    if (end == pos_) {  // blank line
      pos_ = next;
      ++line_;
      continue;
    }
    rec->line = line_;
    if (std::memchr(base + pos_, '"', end - pos_) != nullptr) {
      return ParseQuoted(pos_, rec);
    }
    rec->raw = std::string_view(base + pos_, end - pos_);
    if (end - pos_ > max_record_bytes_) {
      rec->error = "record is " + std::to_string(end - pos_) + " bytes, longer than the limit of " +
                   std::to_string(max_record_bytes_);
      rec->raw = rec->raw.substr(0, 4096);
    } else {
      const char* p = base + pos_;
      const char* e = base + end;
      const char* f = p;
      for (; p < e; ++p) {
        if (*p == ',') {
          rec->fields.emplace_back(f, static_cast<size_t>(p - f));
          f = p + 1;
        }
      }
      rec->fields.emplace_back(f, static_cast<size_t>(e - f));
    }
    pos_ = next;
    ++line_;
    return true;
  }
  return false;
}

bool CsvReader::ParseQuoted(size_t start, CsvRecord* rec) {
  const char* base = data_.data();
  const size_t n = data_.size();
  scratch_.clear();
  spans_.clear();
  size_t p = start;
  int64_t lines = 0;
  size_t field_start = 0;
  bool at_field_start = true;
  bool in_quotes = false;
  bool after_quote = false;  // just closed a quoted field
  std::string error;
  size_t rec_end = n;
  size_t next = n;
  while (p < n) {
    char c = base[p];
    if (p - start > max_record_bytes_) {
      error = "record is longer than the limit of " + std::to_string(max_record_bytes_) +
              " bytes (an unterminated quote?)";
      break;
    }
    if (in_quotes) {
      if (c == '"') {
        if (p + 1 < n && base[p + 1] == '"') {
          scratch_.push_back('"');
          p += 2;
          continue;
        }
        in_quotes = false;
        after_quote = true;
        ++p;
        continue;
      }
      if (c == '\n') ++lines;
      scratch_.push_back(c);
      ++p;
      continue;
    }
    if (c == ',') {
      spans_.emplace_back(field_start, scratch_.size() - field_start);
      field_start = scratch_.size();
      at_field_start = true;
      after_quote = false;
      ++p;
      continue;
    }
    if (c == '\n' || (c == '\r' && (p + 1 >= n || base[p + 1] == '\n'))) {
      rec_end = p;
      next = c == '\r' ? p + 2 : p + 1;
      if (next > n) next = n;
      break;
    }
    if (c == '"' && at_field_start) {
      in_quotes = true;
      at_field_start = false;
      ++p;
      continue;
    }
    if (after_quote) {
      if (error.empty())
        error = "unexpected character '" + std::string(1, c) + "' after a closing quote in field " +
                std::to_string(spans_.size() + 1);
    }
    at_field_start = false;
    scratch_.push_back(c);
    ++p;
  }
  if (p >= n && in_quotes && error.empty()) error = "unterminated quoted field";
  if (!error.empty()) {
    // Resynchronise at the line after the record's first line.
    const char* nl = static_cast<const char*>(std::memchr(base + start, '\n', n - start));
    size_t eol = nl ? static_cast<size_t>(nl - base) : n;
    rec->raw = std::string_view(base + start, std::min<size_t>(eol - start, 4096));
    rec->error = error;
    rec->fields.clear();
    pos_ = nl ? eol + 1 : n;
    ++line_;
    return true;
  }
  spans_.emplace_back(field_start, scratch_.size() - field_start);
  for (auto [off, len] : spans_) rec->fields.emplace_back(scratch_.data() + off, len);
  size_t raw_end = rec_end;
  if (raw_end > start && base[raw_end - 1] == '\r') --raw_end;
  rec->raw = std::string_view(base + start, raw_end - start);
  pos_ = next;
  line_ += 1 + lines;
  return true;
}

}  // namespace clearsight
