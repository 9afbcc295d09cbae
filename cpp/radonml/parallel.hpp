// radonml: a minimal parallel-for over index ranges (plain C++17, no Python).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace radonml {

/// Number of hardware threads (at least 1).
inline int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

/// Most threads one parallel_for starts, whatever it is asked for (a thread
/// count far above the core count only costs memory and start-up time).
constexpr int kMaxThreads = 256;

/// Resolve a user thread count: <= 0 means "all cores"; capped at kMaxThreads.
inline int resolve_threads(int n_threads) {
  return std::min(n_threads <= 0 ? hardware_threads() : n_threads, kMaxThreads);
}

/// Run fn(begin, end, thread_index) over [0, n) in contiguous chunks.
///
/// Chunks (about 32 per thread, at least min_per_thread / 4 indices) are handed
/// out dynamically, so a thread that the OS runs less (a loaded machine) or
/// that meets costlier items simply takes fewer chunks. Every index is
/// processed by exactly one call, and callers write results per index, so
/// results depend neither on the number of threads nor on the schedule.
/// thread_index is in [0, resolve_threads(n_threads)); 0 is the calling thread.
/// Work smaller than min_per_thread per thread runs on fewer threads (starting
/// a thread costs tens of microseconds). The first exception thrown by any
/// call is rethrown on the calling thread after every worker has stopped (no
/// new chunks start after an error). If a thread cannot be started, the
/// threads that did start (at least the calling one) take its chunks.
template <class Fn>
void parallel_for(std::ptrdiff_t n, int n_threads, std::ptrdiff_t min_per_thread, Fn&& fn) {
  if (n <= 0) return;
  int t = resolve_threads(n_threads);
  if (min_per_thread < 1) min_per_thread = 1;
  std::ptrdiff_t max_useful = (n + min_per_thread - 1) / min_per_thread;
  if (max_useful < t) t = static_cast<int>(max_useful);
  if (t <= 1) {
    fn(std::ptrdiff_t(0), n, 0);
    return;
  }
  const std::ptrdiff_t chunk =
      std::max<std::ptrdiff_t>(std::max<std::ptrdiff_t>(1, min_per_thread / 4), n / (32 * static_cast<std::ptrdiff_t>(t)));
  std::atomic<std::ptrdiff_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int k) {
    try {
      while (!failed.load(std::memory_order_relaxed)) {
        const std::ptrdiff_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
        if (begin >= n) break;
        fn(begin, std::min(n, begin + chunk), k);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> workers;
  try {
    workers.reserve(static_cast<std::size_t>(t - 1));
    for (int k = 1; k < t; ++k) workers.emplace_back(run, k);
  } catch (...) {  // std::system_error (no more threads) or bad_alloc: fewer threads
  }
  run(0);
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace radonml
