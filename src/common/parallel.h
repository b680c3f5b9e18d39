// ParallelFor: splits [0, n) into `threads` contiguous chunks and runs them on std::threads
// (the calling thread takes the first chunk). For coarse, evenly sized work only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace clearsight {

template <typename Fn>  // Fn(size_t begin, size_t end)
void ParallelFor(size_t n, int threads, Fn&& fn) {
  threads = std::max(1, std::min<int>(threads, static_cast<int>((n + 1023) / 1024)));
  if (threads <= 1) {
    fn(size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  size_t chunk = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    size_t b = std::min(n, chunk * t), e = std::min(n, chunk * (t + 1));
    pool.emplace_back([&fn, b, e] { fn(b, e); });
  }
  fn(size_t{0}, std::min(n, chunk));
  for (auto& th : pool) th.join();
}

}  // namespace clearsight
