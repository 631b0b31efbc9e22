// Minimal command-line parsing shared by the cyllm subcommands: "--name value", "--name=value",
// "-x value", boolean flags and positionals. Written by hand because each subcommand has a handful
// of options and the project avoids a dependency for that; errors name the offending option.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cyllm::cli {

class Args {
 public:
  // value_opts: options that take a value ("-m", "--model", ...); flag_opts: booleans.
  // aliases map a short form to its long form ("-m" -> "--model").
  Args(int argc, char** argv, const std::set<std::string>& value_opts, const std::set<std::string>& flag_opts,
       const std::map<std::string, std::string>& aliases = {});

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> get_all(const std::string& name) const;  // repeatable options
  std::string get_or(const std::string& name, const std::string& fallback) const;
  // Numeric getters set error() when the value does not parse.
  long long get_int(const std::string& name, long long fallback);
  double get_double(const std::string& name, double fallback);
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
  std::string error_;
};

// Reads a whole file ("-": standard input) into out; false when it cannot be read.
bool read_input(const std::string& path, std::string* out);

}  // namespace cyllm::cli
