// Dataset validation: streams a dataset file row by row, checks every row against its schema,
// finds duplicate rows (by 64-bit content hashes) and, with a model, counts each row's tokens
// through the model's chat template and tokenizer and flags rows over the cutoff. The result holds
// every problem with its row, line/byte offset, field and reason, and statistics (Property 6).
//
// Memory: the file is memory-mapped and pages already read are released, so memory stays flat
// whatever the file size, except for the duplicate table (16 bytes per row: hash + row number) and
// the stored problems (capped by max_problems; the count goes on past the cap).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "train/dataset-format.h"
#include "train/dataset-render.h"
#include "train/dataset-schema.h"

namespace cyllm::train {

struct Problem {
  uint64_t row = 0;     // as the file presents it (see RawRow)
  uint64_t line = 0;    // 0 when not applicable (Parquet)
  uint64_t offset = 0;  // byte offset of the row
  std::string field;    // "" = the whole row
  std::string reason;
};

// Token lengths in power-of-two buckets: bucket k counts lengths in (2^(k-1), 2^k] (k = 0: 0..1).
struct TokenHistogram {
  uint64_t count = 0, total = 0, min = 0, max = 0;
  std::vector<uint64_t> buckets;
  void add(uint64_t n);
  nlohmann::ordered_json to_json() const;  // {"count","min","max","mean","buckets":[{"le","count"}...]}
};

struct ValidationOptions {
  std::optional<DatasetFormat> format;  // nullopt: detect from the content
  std::optional<Schema> schema;         // nullopt: detect from the rows
  ColumnMap map;
  const RenderModel* model = nullptr;  // null: no token counts, no cutoff check
  uint64_t cutoff = 0;                 // 0: no cutoff check
  size_t max_problems = 100000;        // problems stored (all are counted)
};

struct ValidationResult {
  DatasetFormat format = DatasetFormat::kJsonl;
  Schema schema = Schema::kText;
  bool schema_detected = true;  // false: no row had a known key (schema defaulted)
  uint64_t rows = 0, valid_rows = 0, problem_count = 0;
  std::vector<Problem> problems;
  bool tokenized = false;
  // Every row that was tokenized: the valid rows and the rows flagged only for the cutoff.
  TokenHistogram token_lengths;
};

// Validates a file. An Error means the file cannot be read as a dataset at all (exit code 2).
Result<ValidationResult> validate_file(const std::string& path, const ValidationOptions& opts);
// Validates bytes already in memory; `file` (optional) gets page-release calls while streaming.
Result<ValidationResult> validate_buffer(std::string_view data, const ValidationOptions& opts,
                                         DatasetFile* file = nullptr);

// {"format","schema","rows","valid_rows","problem_count","problems":[{"row","field","reason","line",
//  "offset"}],"token_lengths":{...}}: line and offset only where the format has them (not Parquet);
// token_lengths is {} without a model. problem_count counts problems beyond max_problems too.
nlohmann::ordered_json to_json(const ValidationResult& r);

// Reads the schema from the first rows (up to 1000 parseable ones), by majority.
Result<Schema> detect_schema(DatasetFormat format, std::string_view data, ColumnMap* map, bool* detected);

// Streams the rows of a file with their conversations (for rendering and splitting): visit gets
// the raw row, whether it is valid and its conversation.
Status for_each_conversation(DatasetFormat format, Schema schema, const ColumnMap& map, std::string_view data,
                             const std::function<bool(const RawRow&, bool, const Conversation&)>& visit);

}  // namespace cyllm::train
