// Shared by the dataset fuzz targets: runs every schema's row checks (and the duplicate hash) on
// each row a reader produces, so the schema code sees the same arbitrary input as the parser.
#pragma once

#include "train/dataset-format.h"
#include "train/dataset-schema.h"

inline bool fuzz_check_row(cyllm::train::RawRow& r) {
  using namespace cyllm::train;
  if (!r.error.empty()) return true;
  for (Schema s : {Schema::kAlpaca, Schema::kMessages, Schema::kShareGpt, Schema::kText}) {
    ColumnMap m;
    (void)guess_schema(r.value, &m);
    std::vector<FieldProblem> p;
    Conversation c;
    if (check_row(s, m, r.value, &p, &c)) (void)conversation_hash(c);
  }
  return true;
}
