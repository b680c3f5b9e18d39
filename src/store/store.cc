// Backend-independent parts of the store: content-addressed images, the audit chain, hashing.
#include "clearsight/store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "clearsight/file_util.h"

namespace clearsight {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

std::string AuditHash(const std::string& prev_hash, const AuditEntry& e) {
  return Sha256Hex(prev_hash + AuditCanonical(e));
}

Result<AuditVerifyReport> Store::VerifyAudit() {
  AuditVerifyReport rep;
  std::string prev(64, '0');
  int64_t expected = 1;
  for (;;) {
    CS_ASSIGN_OR_RETURN(auto page, AuditRange(expected - 1, 5000));
    if (page.empty()) break;
    for (const auto& e : page) {
      std::string problem;
      if (e.seq != expected) {
        problem = "entry " + std::to_string(expected) + " is missing (next is " +
                  std::to_string(e.seq) + ")";
      } else if (e.prev_hash != prev) {
        problem = "entry " + std::to_string(e.seq) + " does not link to the previous entry's hash";
      } else if (e.hash != AuditHash(prev, e)) {
        problem =
            "entry " + std::to_string(e.seq) + " was changed: its content does not match its hash";
      }
      if (!problem.empty()) {
        rep.ok = false;
        rep.first_bad_seq = expected;
        rep.message = "audit log broken: " + problem;
        return rep;
      }
      prev = e.hash;
      rep.head_hash = e.hash;
      ++rep.entries;
      ++expected;
    }
  }
  rep.message = "audit log intact: " + std::to_string(rep.entries) + " entries, head " +
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
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("cannot fsync", tmp);
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
