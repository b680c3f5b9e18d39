// The analysis workers of the service (service/worker_pool.h).
#include "service/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

namespace clearsight::service {
namespace {

TEST(WorkerPool, RunsAtMostItsSizeAtOnceAndReturnsResultsAndErrors) {
  WorkerPool pool(2);
  EXPECT_EQ(pool.size(), 2);
  std::atomic<int> running{0}, most{0};
  std::vector<std::future<int>> results;
  for (int i = 0; i < 12; ++i)
    results.push_back(pool.Submit([&, i] {
      const int now = ++running;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --running;
      return i * i;
    }));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(results[i].get(), i * i);
  EXPECT_LE(most.load(), 2) << "twelve tasks, two workers: never more than two at once";
  EXPECT_GE(most.load(), 1);
  auto failed = pool.Submit([]() -> int { throw std::runtime_error("bad scan"); });
  EXPECT_THROW(failed.get(), std::runtime_error)
      << "an exception reaches the caller, the worker lives on";
  EXPECT_EQ(pool.Submit([] { return 7; }).get(), 7);
}

TEST(WorkerPool, RunOnEachRunsOnceOnEveryWorker) {
  WorkerPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::set<int> indices;
  for (int round = 0; round < 2; ++round)
    pool.RunOnEach([&](int i) {
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
      indices.insert(i);
    });
  EXPECT_EQ(threads.size(), 3u) << "each worker, not one worker three times";
  EXPECT_EQ(indices, (std::set<int>{0, 1, 2}));
  // The same threads serve later tasks (what the warm-up relies on).
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(threads.count(pool.Submit([] { return std::this_thread::get_id(); }).get()), 1u);
}

TEST(WorkerPool, FinishesQueuedTasksWhenDestroyed) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(1);
    for (int i = 0; i < 5; ++i)
      (void)pool.Submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ++done;
      });
  }
  EXPECT_EQ(done.load(), 5);
}

}  // namespace
}  // namespace clearsight::service
