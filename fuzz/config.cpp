// load_config with arbitrary text as config/application.yml (the file the service reads first;
// profile and environment left at their defaults). The text is written to a private directory
// under TMPDIR (a tmpfs /dev/shm when there is one) and loaded through the real entry point, so
// YAML parsing, flattening, validation and building the AppConfig are all covered.
// Property: only ConfigError escapes (the service prints it and exits 2); a config that loads must
// load to the same effective values again.
#include "infra/config/config.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace ticketing::infra::config;

namespace {

std::string make_dir() {
  std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  std::string dir = base + "/ticketing-fuzz-config-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir;
}

bool load(const LoadOptions& options, LoadedConfig& out) {
  try {
    out = load_config(options);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = make_dir();
  static const std::string file = dir + "/application.yml";
  {
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  LoadOptions options;
  options.config_dir = dir;
  LoadedConfig first;
  if (load(options, first)) {
    (void)describe(first);
    LoadedConfig again;
    if (!load(options, again) || again.values.size() != first.values.size()) __builtin_trap();
    for (std::size_t i = 0; i < first.values.size(); ++i) {
      if (again.values[i].value != first.values[i].value) __builtin_trap();
    }
  }
  return 0;
}
