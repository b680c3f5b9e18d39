// A fixed set of worker threads that run submitted tasks in the order they were submitted.
//
// The service analyses uploaded scans on one: at most size() analyses run at once however many
// uploads are in flight (each HTTP thread waits for its scan's result), and always on the same
// threads, so the startup warm-up (RunOnEach) grows exactly the heaps that later scans reuse. A
// thread's heap is its glibc malloc arena; an arena left by a thread that ended goes to whichever
// thread next needs one, which is why warming on throw-away threads helped only partly.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace clearsight::service {

class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i)
      threads_.emplace_back([this] {
        for (;;) {
          std::function<void()> task;
          {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left
            task = std::move(queue_.front());
            queue_.pop_front();
          }
          task();
        }
      });
  }
  // Runs the tasks already submitted, then joins the threads.
  ~WorkerPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }

  // Queues f; its result (or exception) through the future.
  template <typename F>
  std::future<std::invoke_result_t<F>> Submit(F&& f) {
    auto task = std::make_shared<std::packaged_task<std::invoke_result_t<F>()>>(std::forward<F>(f));
    auto result = task->get_future();
    {
      std::lock_guard lock(mu_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result;
  }

  // Runs fn(worker index 0..size()-1) once on every worker and returns when all have finished:
  // each call holds its worker until all have started, so no worker takes two.
  void RunOnEach(const std::function<void(int)>& fn) {
    std::mutex m;
    std::condition_variable all_started;
    int started = 0;
    std::vector<std::future<void>> done;
    for (int i = 0; i < size(); ++i)
      done.push_back(Submit([&, i] {
        {
          std::unique_lock lock(m);
          ++started;
          all_started.notify_all();
          all_started.wait(lock, [&] { return started == size(); });
        }
        fn(i);
      }));
    for (auto& d : done) d.get();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace clearsight::service
