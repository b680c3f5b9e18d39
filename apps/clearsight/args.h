// A small command-line parser for the thin CLI: "--name value", "--name=value" and "--flag".
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace clearsight::cli {

class Args {
 public:
  // `argv` starts after the subcommand words. Flags listed in `booleans` take no value.
  Args(int argc, char** argv, int first, std::set<std::string> booleans = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Fails (with a message naming the flag) when missing or not a number.
  bool GetInt(const std::string& name, long long fallback, long long* out) const;
  bool GetDouble(const std::string& name, double fallback, double* out) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Names given that are not in `known`; the CLI reports them instead of ignoring them.
  std::vector<std::string> Unknown(const std::set<std::string>& known) const;
  const std::string& error() const { return error_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  std::string error_;
};

}  // namespace clearsight::cli
