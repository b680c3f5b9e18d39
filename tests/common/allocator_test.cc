#include "clearsight/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace clearsight {
namespace {

TEST(Allocator, LargeFreedBlocksStayInTheHeapUnlessTheOperatorChoseOtherwise) {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const bool operator_chose = tunables && std::strstr(tunables, "glibc.malloc.");
  const bool changed = KeepLargeFreedBlocks();
  EXPECT_EQ(KeepLargeFreedBlocks(), changed) << "a second call changes nothing";
  if (operator_chose) {
    EXPECT_FALSE(changed) << "GLIBC_TUNABLES names a malloc setting: left alone";
    return;
  }
  ASSERT_TRUE(changed);
  // An 8 MB block (a training step's activations are of this size) comes from the heap, not from
  // a mapping of its own that free() would give back to the kernel.
  const size_t mapped_before = mallinfo2().hblks;
  void* block = std::malloc(8u << 20);
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, 8u << 20);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
  std::free(block);
  // A block above 32 MB is still mapped on its own.
  void* huge = std::malloc(64u << 20);
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped_before + 1);
  std::free(huge);
#else
  EXPECT_FALSE(KeepLargeFreedBlocks()) << "only glibc's allocator is tuned";
#endif
}

}  // namespace
}  // namespace clearsight
