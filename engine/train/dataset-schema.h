// Dataset schemas: what a row means. Four are recognised from the row's keys — alpaca
// (instruction/input/output, optional system and history), OpenAI `messages` (content as a string
// or a list of parts), ShareGPT `conversations` (from/value turns with human, gpt, system,
// function_call and observation, optional tools) and raw `text` — and a column mapping renames the
// file's columns onto these fields. check_row() finds every problem in one row and builds the
// conversation that rendering and duplicate detection use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cyllm::train {

enum class Schema { kAlpaca, kMessages, kShareGpt, kText };

std::string_view schema_name(Schema s);  // "alpaca", "messages", "sharegpt", "text"
std::optional<Schema> parse_schema_name(std::string_view name);

// Canonical field -> the file's column. Canonical fields: instruction, input, output, system,
// history (alpaca); messages, tools (messages); conversations, system, tools (sharegpt); text;
// and for turns role, content (messages) and from, value (sharegpt).
struct ColumnMap {
  std::map<std::string, std::string> columns;
  // The file's name for a canonical field (the field itself when not mapped).
  std::string col(const std::string& canonical) const;
  // Parses "field=column" specs; unknown canonical fields are an error.
  static Result<ColumnMap> parse(const std::vector<std::string>& specs);
};

// The schema a row looks like, or nullopt when it has none of the known keys. May add mapping
// entries it discovers (a `messages` column holding from/value turns is ShareGPT).
std::optional<Schema> guess_schema(const nlohmann::ordered_json& row, ColumnMap* map);

struct FieldProblem {
  std::string field;  // the file's field path, e.g. "output" or "messages[2].content"; "" = whole row
  std::string reason;
};

// A row in the one shape rendering needs: chat messages ({"role","content"}, in OpenAI roles:
// system, user, assistant, tool) with optional tools, or raw text.
struct Conversation {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null or a JSON array
  std::optional<std::string> text;  // set for the text schema
};

// Appends every problem of the row to *problems (at most one role-order problem per row: the
// first place where the order goes wrong) and fills *conv. Returns true when the row is valid.
bool check_row(Schema schema, const ColumnMap& map, const nlohmann::ordered_json& row,
               std::vector<FieldProblem>* problems, Conversation* conv);

// 64-bit hash of a conversation's content, for duplicate detection.
uint64_t conversation_hash(const Conversation& conv);

// Fast 64-bit hash of bytes (not cryptographic), combined with a seed.
uint64_t hash_bytes(std::string_view s, uint64_t seed);

}  // namespace cyllm::train
