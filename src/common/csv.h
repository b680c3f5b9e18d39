// An RFC 4180 CSV tokenizer over a buffer in memory.
//
// Unquoted records are split in place (fields are views into the buffer). Quoted fields may hold
// commas, doubled quotes and line breaks; they are unescaped into the reader's scratch space.
// A malformed record (unterminated quote, text after a closing quote, longer than the limit) is
// returned with `error` set and the reader resynchronises at the next line, so one bad record
// never costs the rest of the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clearsight {

struct CsvRecord {
  std::vector<std::string_view> fields;  // valid until the next call to Next()
  int64_t line = 0;                      // 1-based physical line where the record starts
  std::string_view raw;                  // the record's bytes without the line break
  std::string error;                     // non-empty when the record is malformed
};

class CsvReader {
 public:
  CsvReader(std::string_view data, size_t max_record_bytes = 1 << 20);

  // Fills *record with the next non-blank record; false at the end of the data.
  bool Next(CsvRecord* record);

 private:
  bool ParseQuoted(size_t start, CsvRecord* record);

  std::string_view data_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  size_t max_record_bytes_;
  std::string scratch_;
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) into scratch_
};

}  // namespace clearsight
