// WriteFileAtomic: a regular file is replaced in one step; a device or FIFO is written into, never
// replaced (as root, renaming over /dev/null would turn it into a file for the whole machine).
#include "clearsight/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace clearsight {
namespace {

namespace fs = std::filesystem;

fs::path TempDir() {
  fs::path d = fs::temp_directory_path() / ("cs_file_util_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(WriteFileAtomic, ReplacesARegularFileAndLeavesNoTemporary) {
  const fs::path dir = TempDir();
  const std::string path = (dir / "out.csv").string();
  ASSERT_TRUE(WriteFileAtomic(path, "first\n").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second\n").ok());
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "second\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove_all(dir);
}

TEST(WriteFileAtomic, WritesIntoAFifoInsteadOfReplacingIt) {
  const fs::path dir = TempDir();
  const std::string fifo = (dir / "out.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo);
    got.assign(std::istreambuf_iterator<char>(in), {});
  });
  const Status s = WriteFileAtomic(fifo, "through the pipe\n");
  reader.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, "through the pipe\n");
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced by a file";
  EXPECT_FALSE(fs::exists(fifo + ".tmp"));
  fs::remove_all(dir);
}

TEST(WriteFileAtomic, ADirectoryIsAnErrorNamingIt) {
  const fs::path dir = TempDir();
  const Status s = WriteFileAtomic(dir.string(), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is a directory"), std::string::npos) << s.ToString();
  EXPECT_TRUE(fs::is_directory(dir));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace clearsight
