// CompactString: a read-mostly string of 16 bytes (std::string takes 32). Up to 15 bytes are kept
// inline, longer values on the heap. Declaration's thirteen text fields are almost always short
// ids and codes, and ingest keeps millions of declarations, so this halves a row's memory and
// with it the page faults of reading a large file (bench/ingest_bench.cc, docs/declarations.md).
//
// It converts implicitly to std::string_view (free) and to std::string (a copy), compares with
// anything a string_view can be made from, and is assigned from the same. c_str() is always
// NUL-terminated; a moved-from CompactString is empty.
#pragma once

#include <compare>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>

namespace clearsight {

class CompactString {
 public:
  static constexpr size_t kInline = 15;

  CompactString() noexcept { SetInline(0); }
  CompactString(std::string_view s) { Init(s); }               // NOLINT: implicit, as std::string's
  CompactString(const std::string& s) { Init(s); }             // NOLINT
  CompactString(const char* s) { Init(std::string_view(s)); }  // NOLINT
  CompactString(const CompactString& o) { Init(o.view()); }
  CompactString(CompactString&& o) noexcept {
    std::memcpy(raw_, o.raw_, sizeof(raw_));
    o.SetInline(0);
  }
  ~CompactString() { Free(); }

  CompactString& operator=(const CompactString& o) {
    if (this != &o) assign(o.view());
    return *this;
  }
  CompactString& operator=(CompactString&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(raw_, o.raw_, sizeof(raw_));
      o.SetInline(0);
    }
    return *this;
  }
  CompactString& operator=(std::string_view s) { return assign(s); }
  CompactString& operator=(const std::string& s) { return assign(s); }
  CompactString& operator=(const char* s) { return assign(std::string_view(s)); }

  CompactString& assign(std::string_view s) {
    if (s.size() <= kInline) {
      // s may point into our own heap block: copy before freeing.
      // (An empty view may have a null data(): memcpy from null is undefined even for 0 bytes.)
      char tmp[kInline];
      if (!s.empty()) std::memcpy(tmp, s.data(), s.size());
      Free();
      if (!s.empty()) std::memcpy(raw_, tmp, s.size());
      SetInline(s.size());
    } else if (IsHeap() && s.size() <= HeapCapacity()) {
      std::memmove(HeapPtr(), s.data(), s.size());
      HeapPtr()[s.size()] = '\0';
      SetHeapSize(s.size());
    } else {
      CompactString fresh(s);
      *this = std::move(fresh);
    }
    return *this;
  }
  CompactString& assign(const char* s, size_t n) { return assign(std::string_view(s, n)); }
  void clear() { assign(std::string_view()); }

  size_t size() const noexcept {
    return IsHeap() ? HeapSize() : kInline - static_cast<uint8_t>(raw_[kInline]);
  }
  size_t length() const noexcept { return size(); }
  bool empty() const noexcept { return size() == 0; }
  const char* data() const noexcept { return IsHeap() ? HeapPtr() : raw_; }
  const char* c_str() const noexcept { return data(); }
  const char* begin() const noexcept { return data(); }
  const char* end() const noexcept { return data() + size(); }
  char operator[](size_t i) const noexcept { return data()[i]; }
  char front() const noexcept { return data()[0]; }
  char back() const noexcept { return data()[size() - 1]; }

  std::string_view view() const noexcept { return std::string_view(data(), size()); }
  std::string str() const { return std::string(data(), size()); }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit on purpose
  operator std::string() const { return str(); }                 // NOLINT

  // As std::string's: substr copies.
  std::string substr(size_t pos = 0, size_t n = std::string::npos) const {
    return std::string(view().substr(pos, n));
  }
  size_t find(std::string_view s, size_t pos = 0) const noexcept { return view().find(s, pos); }
  size_t find(char c, size_t pos = 0) const noexcept { return view().find(c, pos); }
  size_t rfind(char c, size_t pos = std::string::npos) const noexcept {
    return view().rfind(c, pos);
  }
  bool starts_with(std::string_view s) const noexcept { return view().starts_with(s); }
  bool ends_with(std::string_view s) const noexcept { return view().ends_with(s); }
  int compare(std::string_view s) const noexcept { return view().compare(s); }

  // One exact overload per kind of right-hand side (C++20 adds the reversed forms), so that no
  // comparison has to choose between two conversions.
  friend bool operator==(const CompactString& a, const CompactString& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator==(const CompactString& a, std::string_view b) noexcept {
    return a.view() == b;
  }
  friend bool operator==(const CompactString& a, const std::string& b) noexcept {
    return a.view() == b;
  }
  friend bool operator==(const CompactString& a, const char* b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const CompactString& a, const CompactString& b) noexcept {
    return a.view().compare(b.view()) <=> 0;
  }
  friend std::strong_ordering operator<=>(const CompactString& a, std::string_view b) noexcept {
    return a.view().compare(b) <=> 0;
  }
  friend std::strong_ordering operator<=>(const CompactString& a, const std::string& b) noexcept {
    return a.view().compare(b) <=> 0;
  }
  friend std::strong_ordering operator<=>(const CompactString& a, const char* b) noexcept {
    return a.view().compare(b) <=> 0;
  }

 private:
  // Inline: raw_[0..size) the bytes, raw_[size] = 0, raw_[15] = 15 - size (0 when full, so the
  // last byte doubles as the terminator). Heap: pointer in [0, 8), size in [8, 12), capacity in
  // [12, 15) (24 bits is plenty: a record is at most 1 MiB), raw_[15] = 0xFF.
  static constexpr uint8_t kHeapTag = 0xFF;

  bool IsHeap() const noexcept { return static_cast<uint8_t>(raw_[kInline]) == kHeapTag; }
  void SetInline(size_t n) noexcept {
    raw_[n] = '\0';
    raw_[kInline] = static_cast<char>(kInline - n);
  }
  char* HeapPtr() const noexcept {
    char* p;
    std::memcpy(&p, raw_, sizeof(p));
    return p;
  }
  size_t HeapSize() const noexcept {
    uint32_t n;
    std::memcpy(&n, raw_ + 8, sizeof(n));
    return n;
  }
  void SetHeapSize(size_t n) noexcept {
    const uint32_t v = static_cast<uint32_t>(n);
    std::memcpy(raw_ + 8, &v, sizeof(v));
  }
  size_t HeapCapacity() const noexcept {
    return static_cast<uint8_t>(raw_[12]) |
           static_cast<size_t>(static_cast<uint8_t>(raw_[13])) << 8 |
           static_cast<size_t>(static_cast<uint8_t>(raw_[14])) << 16;
  }
  void Init(std::string_view s) {
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(raw_, s.data(), s.size());  // data() may be null when empty
      SetInline(s.size());
      return;
    }
    if (s.size() >= (size_t{1} << 24))
      throw std::length_error("CompactString: value of 16 MiB or more");
    char* p = new char[s.size() + 1];
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    std::memcpy(raw_, &p, sizeof(p));
    SetHeapSize(s.size());
    raw_[12] = static_cast<char>(s.size() & 0xFF);
    raw_[13] = static_cast<char>((s.size() >> 8) & 0xFF);
    raw_[14] = static_cast<char>((s.size() >> 16) & 0xFF);
    raw_[kInline] = static_cast<char>(kHeapTag);
  }
  void Free() noexcept {
    if (IsHeap()) delete[] HeapPtr();
  }

  alignas(8) char raw_[16];
};

inline std::string operator+(const std::string& a, const CompactString& b) {
  return a + std::string(b.view());
}
inline std::string operator+(std::string&& a, const CompactString& b) {
  return std::move(a.append(b.view()));
}
inline std::string operator+(const CompactString& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const char* a, const CompactString& b) {
  return std::string(a).append(b.view());
}
inline std::string operator+(const CompactString& a, const char* b) { return a.str().append(b); }
inline std::string operator+(char a, const CompactString& b) {
  return std::string(1, a).append(b.view());
}
inline std::string operator+(const CompactString& a, char b) { return a.str() + b; }
std::ostream& operator<<(std::ostream& os, const CompactString& s);

}  // namespace clearsight

template <>
struct std::hash<clearsight::CompactString> {
  size_t operator()(const clearsight::CompactString& s) const noexcept {
    return std::hash<std::string_view>()(s.view());
  }
};
