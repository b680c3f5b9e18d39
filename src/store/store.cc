// Backend-independent parts of the store: content-addressed images, the audit chain, hashing.
#include "clearsight/store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "store/sql_conn.h"

namespace clearsight {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DeclarationSearchText(std::string_view declaration_id, std::string_view importer,
                                  std::string_view declarant, std::string_view seller,
                                  std::string_view description) {
  std::string text;
  for (std::string_view part : {declaration_id, importer, declarant, seller, description}) {
    if (part.empty()) continue;
    if (!text.empty()) text.push_back('\x1f');  // a match never spans two fields
    text += ToLower(part);
  }
  return text;
}

void SearchFieldsFromJson(DeclarationRow* row) {
  nlohmann::json d = nlohmann::json::parse(row->json, nullptr, false);
  auto text = [&](const char* key) -> std::string {
    if (!d.is_object() || !d.contains(key) || !d[key].is_string()) return {};
    return d[key].get<std::string>();
  };
  row->importer_id = text("importer_id");
  row->hs_code = text("hs_code");
  row->declared_value =
      d.is_object() && d.contains("declared_value") && d["declared_value"].is_number()
          ? d["declared_value"].get<double>()
          : 0;
  row->search_text =
      DeclarationSearchText(row->declaration_id, row->importer_id, text("declarant_id"),
                            text("seller_id"), text("description"));
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * sizeof digest, '0');
  for (size_t i = 0; i < sizeof digest; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

bool IsInspectionResult(std::string_view result) {
  return !result.empty() && result != kNotInspected;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string AuditCanonical(const AuditEntry& e) {
  std::string out;
  auto field = [&](std::string_view v) {
    out += std::to_string(v.size());
    out += ':';
    out += v;
    out += ';';
  };
  field(std::to_string(e.seq));
  field(std::to_string(e.at_ms));
  field(e.actor);
  field(e.action);
  field(e.subject);
  field(e.detail_json);
  return out;
}

namespace {
std::string Hex(const unsigned char* bytes, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

std::string RandomKeyHex() {
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
  randombytes_buf(key, sizeof key);
  return Hex(key, sizeof key);
}

// Writes the keyring file whole: temp file (mode 0600), fsync, rename.
Status WriteKeyringFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot write '" + tmp + "': " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("cannot write '" + path + "': " + std::strerror(errno));
  return Status::Ok();
}
}  // namespace

Result<AuditKeyring> AuditKeyring::Load(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  AuditKeyring ring;
  ring.path_ = path;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    const std::string_view id = line.substr(0, space);
    const std::string_view hex = space == std::string_view::npos ? "" : Trim(line.substr(space));
    if (id.empty() || id.find(':') != std::string_view::npos || !IsSha256Hex(hex) || ring.Has(id))
      return Status::DataLoss(path + ":" + std::to_string(line_no) +
                              ": expected '<key id> <64 hex digits>' with a new id");
    std::string key(hex.size() / 2, '\0');
    for (size_t i = 0; i < key.size(); ++i)
      key[i] = static_cast<char>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
    ring.keys_.emplace_back(std::string(id), std::move(key));
  }
  if (ring.keys_.empty()) return Status::DataLoss(path + ": no audit key in the file");
  return ring;
}

Result<AuditKeyring> AuditKeyring::Create(const std::string& path) {
  if (FileExists(path)) return Status::AlreadyExists(path + " exists: not replacing an audit key");
  CS_RETURN_IF_ERROR(WriteKeyringFile(path, "k1 " + RandomKeyHex() + "\n"));
  return Load(path);
}

Result<AuditKeyring> AuditKeyring::Rotate(const std::string& path) {
  CS_ASSIGN_OR_RETURN(AuditKeyring ring, Load(path));
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += "k" + std::to_string(ring.keys_.size() + 1) + " " + RandomKeyHex() + "\n";
  CS_RETURN_IF_ERROR(WriteKeyringFile(path, text));
  return Load(path);
}

bool AuditKeyring::Has(std::string_view id) const {
  for (const auto& [k, key] : keys_)
    if (k == id) return true;
  return false;
}

std::string AuditKeyring::Sign(std::string_view message, std::string_view id) const {
  if (id.empty()) id = signing_id();
  for (const auto& [k, key] : keys_) {
    if (k != id) continue;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
    crypto_auth_hmacsha256_final(&st, mac);
    return k + ":" + Hex(mac, sizeof mac);
  }
  return "";
}

std::string AuditHash(const std::string& prev_hash, const AuditEntry& e,
                      const AuditKeyring* keyring) {
  const std::string message = prev_hash + AuditCanonical(e);
  return keyring ? keyring->Sign(message) : Sha256Hex(message);
}

namespace store {
std::string AnchorMessage(int64_t seq, const std::string& hash) {
  return "anchor\n" + std::to_string(seq) + "\n" + hash;
}

Status AppendAuditAnchor(const AuditKeyring& ring, int64_t seq, const std::string& hash) {
  const std::string path = ring.path() + ".anchors";
  const std::string line = nlohmann::json{{"seq", seq},
                                          {"hash", hash},
                                          {"at_ms", NowMs()},
                                          {"mac", ring.Sign(AnchorMessage(seq, hash))}}
                               .dump() +
                           "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot append to '" + path + "': " + std::strerror(errno));
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::IoError("cannot append to '" + path + "': " + std::strerror(errno));
  return Status::Ok();
}
}  // namespace store

namespace {
struct Anchor {
  int64_t seq = 0;
  std::string hash;
  int64_t at_ms = 0;
};

// The anchors in "<keyring>.anchors", each one's signature checked. A missing file is no anchors.
Result<std::vector<Anchor>> ReadAnchors(const AuditKeyring& ring) {
  const std::string path = ring.path() + ".anchors";
  std::vector<Anchor> out;
  if (!FileExists(path)) return out;
  CS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (Trim(line).empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer() ||
        !j.contains("hash") || !j["hash"].is_string() || !j.contains("mac") ||
        !j["mac"].is_string())
      return Status::DataLoss(where + ": not an anchor line");
    Anchor a{j["seq"].get<int64_t>(), j["hash"].get<std::string>(), j.value("at_ms", int64_t{0})};
    const std::string mac = j["mac"].get<std::string>();
    const std::string id = mac.substr(0, mac.find(':'));
    if (!ring.Has(id))
      return Status::DataLoss(where + ": signed with audit key '" + id + "', which " + ring.path() +
                              " does not hold");
    if (ring.Sign(store::AnchorMessage(a.seq, a.hash), id) != mac)
      return Status::DataLoss(where + ": the anchor's signature does not match (changed)");
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const Anchor& x, const Anchor& y) { return x.seq < y.seq; });
  return out;
}
}  // namespace

Result<AuditVerifyReport> Store::VerifyAudit() {
  AuditVerifyReport rep;
  const AuditKeyring* ring = audit_keyring_ ? &*audit_keyring_ : nullptr;
  std::vector<Anchor> anchors;
  if (ring) {
    CS_ASSIGN_OR_RETURN(anchors, ReadAnchors(*ring));
  }
  size_t next_anchor = 0;
  std::string prev(64, '0');
  int64_t expected = 1;
  auto broken = [&](int64_t seq, const std::string& problem) {
    rep.ok = false;
    rep.first_bad_seq = seq;
    rep.message = "audit log broken: " + problem;
    return rep;
  };
  for (;;) {
    CS_ASSIGN_OR_RETURN(auto page, AuditRange(expected - 1, 5000));
    if (page.empty()) break;
    for (const auto& e : page) {
      const std::string at = "entry " + std::to_string(expected);
      if (e.seq != expected)
        return broken(expected, at + " is missing (next is " + std::to_string(e.seq) + ")");
      if (e.prev_hash != prev)
        return broken(e.seq, at + " does not link to the previous entry's hash");
      const size_t colon = e.hash.find(':');
      if (colon == std::string::npos) {
        if (rep.signed_entries > 0)
          return broken(e.seq, at + " is not signed although earlier entries are");
        if (e.hash != AuditHash(prev, e))
          return broken(e.seq, at + " was changed: its content does not match its hash");
      } else {
        const std::string id = e.hash.substr(0, colon);
        if (!ring || !ring->Has(id))
          return broken(e.seq, at + " is signed with audit key '" + id + "', which " +
                                   (ring ? ring->path() + " does not hold"
                                         : std::string("this store was opened without")) +
                                   " (give the keyring: --audit-key)");
        if (ring->Sign(prev + AuditCanonical(e), id) != e.hash)
          return broken(e.seq, at + " was changed: its content does not match its signature");
        ++rep.signed_entries;
      }
      for (; next_anchor < anchors.size() && anchors[next_anchor].seq <= e.seq; ++next_anchor) {
        if (anchors[next_anchor].seq == e.seq && anchors[next_anchor].hash != e.hash)
          return broken(e.seq, at + " differs from the anchor written for it");
        ++rep.anchors;
      }
      prev = e.hash;
      rep.head_hash = e.hash;
      ++rep.entries;
      ++expected;
    }
  }
  if (next_anchor < anchors.size()) {
    const Anchor& a = anchors.back();
    return broken(rep.entries + 1, "the log ends at entry " + std::to_string(rep.entries) +
                                       " but entry " + std::to_string(a.seq) +
                                       " was anchored: the newest entries were removed");
  }
  rep.message = "audit log intact: " + std::to_string(rep.entries) + " entries (" +
                std::to_string(rep.signed_entries) + " signed, " + std::to_string(rep.anchors) +
                " anchors checked), head " +
                (rep.head_hash.empty() ? std::string("(empty)") : rep.head_hash);
  return rep;
}

namespace {
Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError(what + " '" + path + "': " + std::strerror(errno));
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("cannot fsync directory", dir);
}
}  // namespace

Result<std::string> Store::ImagePath(const std::string& sha256) const {
  if (!IsSha256Hex(sha256))
    return Status::InvalidArgument("image id must be 64 lowercase hex digits (a sha256)");
  return images_dir_ + "/" + sha256.substr(0, 2) + "/" + sha256;
}

Result<int64_t> Store::RemoveTrainingImages(int64_t answered_before_ms, int64_t limit) {
  std::vector<std::string> freed;
  CS_RETURN_IF_ERROR(Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(freed, txn.ForgetTrainingImages(answered_before_ms, limit));
    return Status::Ok();
  }));
  int64_t removed = 0;
  for (const auto& sha : freed) {
    CS_ASSIGN_OR_RETURN(std::string path, ImagePath(sha));
    if (::unlink(path.c_str()) == 0)
      ++removed;
    else if (errno != ENOENT)
      return Errno("cannot remove", path);
  }
  return removed;
}

Result<std::string> Store::PutImage(std::string_view bytes) {
  std::string sha = Sha256Hex(bytes);
  CS_ASSIGN_OR_RETURN(std::string path, ImagePath(sha));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && static_cast<size_t>(st.st_size) == bytes.size()) return sha;
  std::string dir = images_dir_ + "/" + sha.substr(0, 2);
  if (::stat(dir.c_str(), &st) != 0) {
    CS_RETURN_IF_ERROR(MakeDirs(dir));
    CS_RETURN_IF_ERROR(FsyncDir(images_dir_));  // the new subdirectory's entry must be durable too
  }
  // A unique temp name: two uploads of the same image may race; both renames give the same file.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = dir + "/." + sha + "." + std::to_string(rng()) + ".tmp";
  // A full disk is said as such: the caller may answer "try later" and go on with what needs no
  // image (declarations).
  auto failed = [&](const std::string& what, const std::string& where) {
    if (errno == ENOSPC || errno == EDQUOT)
      return Status::Unavailable("the image store " + images_dir_ +
                                 " is full (no space left on device): files are refused until "
                                 "space is freed");
    return Errno(what, where);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return failed("cannot create", tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = failed("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = failed("cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno("cannot rename into", path);
    ::unlink(tmp.c_str());
    return s;
  }
  CS_RETURN_IF_ERROR(FsyncDir(dir));
  return sha;
}

Result<std::string> Store::ReadImage(const std::string& sha256) const {
  CS_ASSIGN_OR_RETURN(std::string path, ImagePath(sha256));
  if (!FileExists(path)) return Status::NotFound("no image " + sha256);
  return ReadFile(path, size_t{2} << 30);
}

}  // namespace clearsight
