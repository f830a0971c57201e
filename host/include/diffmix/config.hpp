// TOML configuration with a schema defined by use.
//
// A component reads its table key by key through config::Table, giving each key's type, default and range. When
// the component is done, finish() rejects every key nobody read, with the nearest valid name as a suggestion:
//
//   quickstart.toml:12:1: unknown key 'lerning_rate' in [train]; did you mean 'learning_rate'?
//
// Every error carries file:line:column of the offending value.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>


namespace dmx::config {

// An inclusive numeric range; the default accepts everything.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

class Table {
 public:
  // `path` is the dotted name used in messages ("train", "augment[1]"); empty for the root.
  Table(const toml::table& table, std::string source, std::string path);

  bool has(std::string_view key) const;

  double number(std::string_view key, double fallback, Range range = {}) const;
  double required_number(std::string_view key, Range range = {}) const;
  int64_t integer(std::string_view key, int64_t fallback, Range range = {}) const;
  int64_t required_integer(std::string_view key, Range range = {}) const;
  bool boolean(std::string_view key, bool fallback) const;
  // `allowed` empty means any string.
  std::string string(std::string_view key, const std::string& fallback, const std::vector<std::string>& allowed = {}) const;
  std::string required_string(std::string_view key, const std::vector<std::string>& allowed = {}) const;
  std::optional<std::string> optional_string(std::string_view key) const;
  std::vector<std::string> string_list(std::string_view key, const std::vector<std::string>& fallback) const;
  std::vector<double> number_list(std::string_view key, const std::vector<double>& fallback, Range range = {}) const;
  std::vector<int64_t> integer_list(std::string_view key, const std::vector<int64_t>& fallback, Range range = {}) const;

  // A sub-table ([train.optimizer] or an inline table); std::nullopt when absent.
  std::optional<Table> table(std::string_view key) const;
  // An array of tables ([[augment]]); empty when absent.
  std::vector<Table> table_array(std::string_view key) const;

  // Marks a key as read without reading it (for keys handled elsewhere, e.g. by a plugin's own schema).
  void skip(std::string_view key) const;

  // Throws for the first key nobody read, here or in any sub-table obtained from this one.
  void finish() const;

  // "file:line:col" of a key's value (of the table itself when the key is absent).
  std::string where(std::string_view key) const;
  const std::string& path() const;
  const std::string& source() const;
  const toml::table& raw() const;
  // The table as TOML text (toml_document): how an augmenter's table crosses the plugin ABI.
  std::string to_toml() const;

 private:
  friend class Document;
  struct State;
  explicit Table(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
  const toml::node* find(std::string_view key) const;
  const toml::node& require(std::string_view key) const;
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;
};

// A parsed TOML file (or string). Owns the tree that Tables point into.
class Document {
 public:
  static Document parse_file(const std::string& path);
  static Document parse_string(std::string_view text, const std::string& source_name);

  // The whole file as a Table; every call returns the same table, so keys read through one root() count for
  // finish() on another. Call finish() when every section has been read.
  Table root() const;
  const std::string& source() const;
  const toml::table& tree() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<Table::State> root_;
  static std::shared_ptr<Table::State> make_root(const std::shared_ptr<State>& state);
};

// The candidate closest to `word` by edit distance, when it is close enough to be a likely misspelling.
std::optional<std::string> nearest_name(std::string_view word, const std::vector<std::string>& candidates);

// `table` as a TOML document with every table inside it, inline or not, written as a [section]: the same content
// gives the same text however the file spelled it (an inline table would print as `{ ... }`, not a document).
std::string toml_document(toml::table table);

}  // namespace dmx::config
