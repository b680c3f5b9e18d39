// Child processes for the integration tests: `clearsight` commands and servers spawned with
// their output in a log file, waited for by a port file or a TCP connect, killed with a signal.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace clearsight::testing {

// Spawns argv[0] (a path) with stdout and stderr appended to `log`, the environment plus `env`
// ("NAME=value"); -1 when it could not start.
inline pid_t SpawnLogged(const std::vector<std::string>& args, const std::string& log,
                         const std::vector<std::string>& env = {}) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (const auto& e : env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// The port a child wrote to `port_file` (serve --port-file), or -1 when it died or took 30 s.
inline int WaitForPortFile(const std::string& port_file, pid_t pid) {
  for (int i = 0; i < 600; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return -1;  // it died
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

// Whether something accepts TCP connections on 127.0.0.1:port within `ms`.
inline bool WaitForListen(int port, int ms) {
  for (int waited = 0; waited < ms; waited += 50) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Sends `sig` and reaps the child; returns its wait status.
inline int KillAndWait(pid_t pid, int sig) {
  int status = 0;
  if (pid <= 0) return status;
  ::kill(pid, sig);
  ::waitpid(pid, &status, 0);
  return status;
}

inline std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace clearsight::testing
