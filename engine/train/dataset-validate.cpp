// Streaming dataset validation (see dataset-validate.h): format and schema detection, per-row
// checks, duplicate detection by hash in an open-addressing table, token counting and the cutoff.
#include "train/dataset-validate.h"

#include <algorithm>
#include <map>

namespace cyllm::train {

using json = nlohmann::ordered_json;

void TokenHistogram::add(uint64_t n) {
  if (count == 0 || n < min) min = n;
  if (n > max) max = n;
  ++count;
  total += n;
  size_t k = 0;
  while ((uint64_t{1} << k) < n) ++k;
  if (buckets.size() <= k) buckets.resize(k + 1, 0);
  ++buckets[k];
}

json TokenHistogram::to_json() const {
  json j = json::object();
  j["count"] = count;
  j["min"] = min;
  j["max"] = max;
  j["mean"] = count ? static_cast<double>(total) / static_cast<double>(count) : 0.0;
  json b = json::array();
  for (size_t k = 0; k < buckets.size(); ++k)
    if (buckets[k]) b.push_back(json{{"le", uint64_t{1} << k}, {"count", buckets[k]}});
  j["buckets"] = std::move(b);
  return j;
}

namespace {

// hash -> first row, open addressing, grows by doubling. 16 bytes a row.
class HashRows {
 public:
  // Returns the earlier row with this hash, or 0 (and records this row).
  uint64_t insert(uint64_t h, uint64_t row) {
    if (h == 0) h = 1;
    if ((n_ + 1) * 4 >= slots_.size() * 3) grow();
    size_t mask = slots_.size() - 1, i = h & mask;
    while (slots_[i].first != 0) {
      if (slots_[i].first == h) return slots_[i].second;
      i = (i + 1) & mask;
    }
    slots_[i] = {h, row};
    ++n_;
    return 0;
  }

 private:
  void grow() {
    std::vector<std::pair<uint64_t, uint64_t>> old(slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const auto& s : old) {
      if (s.first == 0) continue;
      size_t i = s.first & mask;
      while (slots_[i].first != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> slots_;
  size_t n_ = 0;
};

}  // namespace

Result<Schema> detect_schema(DatasetFormat format, std::string_view data, ColumnMap* map, bool* detected) {
  std::map<Schema, int> votes;
  std::optional<Schema> first;
  int seen = 0;
  Status st = read_rows(format, data, [&](RawRow& r) {
    if (!r.error.empty()) return true;
    ColumnMap m = *map;
    auto s = guess_schema(r.value, &m);
    if (s) {
      if (!first) {
        first = s;
        *map = m;  // keep discovered mappings from the first recognised row
      }
      ++votes[*s];
    }
    return ++seen < 1000;
  });
  if (!st.ok()) return st.error();
  if (!first) {
    *detected = false;
    return Schema::kText;
  }
  *detected = true;
  Schema best = *first;
  for (const auto& [s, n] : votes)
    if (n > votes[best]) best = s;
  return best;
}

Status for_each_conversation(DatasetFormat format, Schema schema, const ColumnMap& map, std::string_view data,
                             const std::function<bool(const RawRow&, bool, const Conversation&)>& visit) {
  std::vector<FieldProblem> scratch;
  Conversation conv;
  return read_rows(format, data, [&](RawRow& r) {
    scratch.clear();
    bool ok = r.error.empty() && r.bad_utf8_fields.empty();
    if (r.error.empty()) ok = check_row(schema, map, r.value, &scratch, &conv) && ok;
    else conv = Conversation{};
    return visit(r, ok, conv);
  });
}

Result<ValidationResult> validate_buffer(std::string_view data, const ValidationOptions& opts, DatasetFile* file) {
  ValidationResult res;
  if (opts.format) {
    res.format = *opts.format;
  } else {
    auto f = detect_format(data);
    if (!f) return f.error();
    res.format = *f;
  }
  ColumnMap map = opts.map;
  if (opts.schema) {
    res.schema = *opts.schema;
    ColumnMap m = map;
    bool d = false;
    // Still learn mappings (e.g. ShareGPT turns under `messages`) when the guess agrees.
    auto s = detect_schema(res.format, data, &m, &d);
    if (!s) return s.error();
    if (d && *s == res.schema) map = m;
  } else {
    auto s = detect_schema(res.format, data, &map, &res.schema_detected);
    if (!s) return s.error();
    res.schema = *s;
  }
  if (file) file->release_all();
  res.tokenized = opts.model != nullptr;

  HashRows seen;
  std::vector<FieldProblem> fp;
  Conversation conv;
  auto report = [&](const RawRow& r, std::string field, std::string reason) {
    ++res.problem_count;
    if (res.problems.size() < opts.max_problems)
      res.problems.push_back({r.row, r.line, r.offset, std::move(field), std::move(reason)});
  };
  Status st = read_rows(res.format, data, [&](RawRow& r) {
    ++res.rows;
    if (file) file->release_before(r.offset);
    if (!r.error.empty()) {
      report(r, r.error_field, r.error);
      return true;
    }
    bool ok = true;
    for (const auto& f : r.bad_utf8_fields) {
      report(r, f, "invalid UTF-8");
      ok = false;
    }
    fp.clear();
    if (!check_row(res.schema, map, r.value, &fp, &conv)) {
      ok = false;
      for (auto& p : fp) report(r, std::move(p.field), std::move(p.reason));
    }
    if (!ok) return true;
    if (uint64_t first = seen.insert(conversation_hash(conv), r.row)) {
      report(r, "", "duplicate of row " + std::to_string(first));
      return true;
    }
    if (opts.model) {
      auto n = count_tokens(*opts.model, conv);
      if (!n) {
        report(r, "", "cannot render with the chat template: " + n.error().message);
        return true;
      }
      res.token_lengths.add(*n);
      if (opts.cutoff && *n > opts.cutoff) {
        report(r, "", std::to_string(*n) + " tokens, over the cutoff of " + std::to_string(opts.cutoff));
        return true;
      }
    }
    ++res.valid_rows;
    return true;
  });
  if (!st.ok()) return st.error();
  return res;
}

Result<ValidationResult> validate_file(const std::string& path, const ValidationOptions& opts) {
  auto f = DatasetFile::open(path);
  if (!f) return f.error();
  return validate_buffer(f->data(), opts, &f.value());
}

json to_json(const ValidationResult& r) {
  json j = json::object();
  j["format"] = format_name(r.format);
  j["schema"] = schema_name(r.schema);
  j["rows"] = r.rows;
  j["valid_rows"] = r.valid_rows;
  j["problem_count"] = r.problem_count;
  json ps = json::array();
  for (const auto& p : r.problems) {
    json o = json::object();
    o["row"] = p.row;
    o["field"] = p.field;
    o["reason"] = p.reason;
    if (p.line) o["line"] = p.line;
    if (r.format != DatasetFormat::kParquet) o["offset"] = p.offset;
    ps.push_back(std::move(o));
  }
  j["problems"] = std::move(ps);
  j["token_lengths"] = r.tokenized ? r.token_lengths.to_json() : json::object();
  return j;
}

}  // namespace cyllm::train
