// Small text helpers used by every reader: strict number parsing, UTF-8 checks, CSV quoting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clearsight {

std::string_view Trim(std::string_view s);

// Strict: the whole (trimmed) text must be a finite number; "1e3", "-2.5", "+4" are fine,
// "", "abc", "1,5", "nan", "inf" are not.
bool ParseDouble(std::string_view s, double* out);
bool ParseInt64(std::string_view s, int64_t* out);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180).
std::string CsvEscape(std::string_view s);
void AppendCsvField(std::string* out, std::string_view s);

// Shortest text that reads back to the same double ("0.1", "1e+20", "12345").
std::string FormatDouble(double v);
// Fixed number of decimals.
std::string FormatFixed(double v, int decimals);

std::vector<std::string_view> Split(std::string_view s, char sep);
std::string ToLower(std::string_view s);
// ASCII letters compared without case ("Content-Type" equals "content-type").
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);

// UTC time with milliseconds, ISO 8601: "2026-03-01T10:22:31.120Z".
std::string IsoTime(int64_t ms_since_epoch);

// A printable excerpt of possibly binary text for error messages (non-printables as \xNN).
std::string Excerpt(std::string_view s, size_t max_chars = 80);

}  // namespace clearsight
