#include "child_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "diffmix/error.hpp"

extern char** environ;

namespace dmx::cli {
namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

}  // namespace

std::string self_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw io_error("/proc/self/exe: cannot find the diffmix binary to start runs with: " + error.message());
  return path.string();
}

std::vector<std::string> child_environment(int threads) {
  std::vector<std::string> variables;
  for (char** entry = environ; *entry != nullptr; ++entry) variables.emplace_back(*entry);
  if (!std::getenv("OMP_NUM_THREADS")) variables.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  return variables;
}

pid_t spawn_child(const std::string& program, const ChildSpec& child, std::vector<std::string>& environment) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!child.log_path.empty()) {
    std::filesystem::create_directories(std::filesystem::path(child.log_path).parent_path());
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, child.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), child.arguments.begin(), child.arguments.end());
  auto argv = pointers(argv_strings);
  auto envp = pointers(environment);
  pid_t pid = 0;
  const int status = posix_spawn(&pid, program.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (status != 0) throw io_error(program + ": cannot start " + child.label + ": " + std::strerror(status));
  return pid;
}

}  // namespace dmx::cli
