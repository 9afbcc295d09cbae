// radonml: a minimal parallel-for over index ranges (plain C++17, no Python).
#pragma once

#include <algorithm>
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

/// Run fn(begin, end, thread_index) over [0, n) split into contiguous chunks.
///
/// The split depends only on n and the thread count, and every index is
/// processed by exactly one call, so results written per index do not depend
/// on the number of threads. Work smaller than min_per_thread per thread runs
/// on fewer threads (spawning a thread costs tens of microseconds). The first
/// exception thrown by any worker is rethrown on the calling thread, after
/// every worker has finished. If a thread cannot be started, its chunk runs on
/// the calling thread instead (same split, so the same results).
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
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(t - 1));
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int k) {
    std::ptrdiff_t begin = n * k / t;
    std::ptrdiff_t end = n * (k + 1) / t;
    try {
      fn(begin, end, k);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  int started = 1;
  try {
    for (; started < t; ++started) workers.emplace_back(run, started);
  } catch (...) {  // std::system_error (no more threads) or bad_alloc: run the rest here
  }
  run(0);
  for (int k = started; k < t; ++k) run(k);
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace radonml
