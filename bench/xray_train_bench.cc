// One training step of the threat detector's network (forward, loss, backward, AdamW), as
// `clearsight xray train` runs it: a batch of 12 crops of 96 x 96 input cells (384 x 384 scan
// pixels), 2 threads. Four ways side by side, the first the baseline:
//   glibc's allocator defaults, contiguous layout
//   glibc's allocator defaults, channels-last layout
//   large freed blocks kept (clearsight/allocator.h), contiguous layout
//   large freed blocks kept, channels-last layout   (how training runs now)
// Each way runs in a child process of its own, so that one way's allocator settings and heap do
// not carry into the next. Prints a table and one JSON line.
//
//   xray_train_bench [--steps N] [--threads T] [--rounds R]
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "clearsight/allocator.h"
#include "clearsight/xray_train.h"

using namespace clearsight;  // NOLINT: benchmark program

namespace {

struct Way {
  const char* name;
  bool keep_blocks;
  bool channels_last;
};

struct Timing {
  double p50_ms = 0, mean_ms = 0, last_loss = 0;
  int steps = 0;
};

// Runs in the child: `steps` timed steps after 5 untimed ones.
Timing RunSteps(const Way& way, int steps, int threads) {
  if (way.keep_blocks) KeepLargeFreedBlocks();
  NetworkStepTimingOptions o;
  o.steps = steps;
  o.threads = threads;
  o.channels_last = way.channels_last;
  auto times = TimeNetworkSteps(o);
  if (!times.ok()) {
    std::fprintf(stderr, "%s\n", times.status().message().c_str());
    std::exit(1);
  }
  double sum = 0;
  for (double ms : times->step_ms) sum += ms;
  Timing t;
  t.p50_ms = bench::Percentile(times->step_ms, 0.5);
  t.mean_ms = sum / steps;
  t.last_loss = times->last_loss;
  t.steps = steps;
  return t;
}

// Forks a child for one way and reads its timing back through a pipe.
bool Measure(const Way& way, int steps, int threads, Timing* out) {
  int fd[2];
  if (pipe(fd) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fd[0]);
    const Timing t = RunSteps(way, steps, threads);
    const ssize_t n = write(fd[1], &t, sizeof t);
    _exit(n == static_cast<ssize_t>(sizeof t) ? 0 : 1);
  }
  close(fd[1]);
  Timing t;
  const ssize_t n = read(fd[0], &t, sizeof t);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != static_cast<ssize_t>(sizeof t) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return false;
  *out = t;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags(
      argc, argv,
      "usage: xray_train_bench [--steps 60] [--threads 2] [--rounds 2]\n"
      "One training step of the detector's network, four allocator and layout ways side by side\n"
      "(the first the baseline), each in a child process; best of the rounds.\n",
      {"--steps", "--threads", "--rounds"});
  const int steps = flags.Int("--steps", 60);
  const int threads = flags.Int("--threads", 2, 1, 256);
  const int rounds = flags.Int("--rounds", 2);
  std::printf("machine: %s\n", bench::Machine().c_str());
  std::printf(
      "detector network, one training step: 12 crops of 96 x 96 cells, %d threads, %d steps per "
      "way, "
      "best of %d rounds (ways interleaved)\n\n",
      threads, steps, rounds);
  const std::vector<Way> ways = {{"glibc defaults, contiguous", false, false},
                                 {"glibc defaults, channels-last", false, true},
                                 {"kept blocks, contiguous", true, false},
                                 {"kept blocks, channels-last", true, true}};
  std::vector<Timing> best(ways.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t w = 0; w < ways.size(); ++w) {
      Timing t;
      if (!Measure(ways[w], steps, threads, &t)) {
        std::fprintf(stderr, "error: the run of '%s' failed\n", ways[w].name);
        return 1;
      }
      if (best[w].steps == 0 || t.p50_ms < best[w].p50_ms) best[w] = t;
    }
  std::printf("%-32s %9s %9s %10s %10s\n", "way", "p50 ms", "mean ms", "vs base", "loss");
  for (size_t w = 0; w < ways.size(); ++w)
    std::printf("%-32s %9.1f %9.1f %9.2fx %10.4f\n", ways[w].name, best[w].p50_ms, best[w].mean_ms,
                best[0].p50_ms / best[w].p50_ms, best[w].last_loss);
  std::string json = "{\"bench\":\"xray_train_step\",\"machine\":\"" + bench::Machine() +
                     "\",\"threads\":" + std::to_string(threads) +
                     ",\"batch\":12,\"crop_cells\":96,\"rows\":[";
  for (size_t w = 0; w < ways.size(); ++w) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "%s{\"way\":\"%s\",\"kept_blocks\":%s,\"channels_last\":%s,\"p50_ms\":%.3f,"
                  "\"mean_ms\":%.3f,"
                  "\"speedup_vs_baseline\":%.3f,\"steps\":%d}",
                  w ? "," : "", ways[w].name, ways[w].keep_blocks ? "true" : "false",
                  ways[w].channels_last ? "true" : "false", best[w].p50_ms, best[w].mean_ms,
                  best[0].p50_ms / best[w].p50_ms, best[w].steps);
    json += buf;
  }
  std::printf("%s]}\n", json.c_str());
  return 0;
}
