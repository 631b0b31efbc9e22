#include "train/train-data.h"

#include "train/dataset-split.h"
#include "train/dataset-validate.h"
#include "train/lora-params.h"

namespace cyllm::train {

int64_t TrainExample::trained() const {
  int64_t n = 0;
  for (size_t i = 1; i < mask.size(); ++i) n += mask[i];
  return n;
}

namespace {
void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}
}  // namespace

Result<LoadedExamples> load_examples(const std::string& path, const RenderModel& model, const DataOptions& opts) {
  auto file = DatasetFile::open(path);
  if (!file) return file.error();
  auto fmt = detect_format(file->data());
  if (!fmt) return fmt.error();
  auto map = ColumnMap::parse(opts.column_map);
  if (!map) return map.error();
  ColumnMap cm = *map;
  Schema schema;
  if (!opts.schema.empty()) {
    auto s = parse_schema_name(opts.schema);
    if (!s) return make_error(ErrorCode::kInvalidArgument, "unknown dataset schema '" + opts.schema + "'");
    schema = *s;
  } else {
    bool detected = false;
    auto s = detect_schema(*fmt, file->data(), &cm, &detected);
    if (!s) return s.error();
    schema = *s;
  }
  LoadedExamples out;
  Status render_error;
  auto st = for_each_conversation(*fmt, schema, cm, file->data(), [&](const RawRow& row, bool ok, const Conversation& c) {
    if (!ok) {
      ++out.invalid;
      return true;
    }
    Conversation conv = c;
    if (!opts.replace.empty()) {
      for (auto& m : conv.messages)
        if (m.contains("content") && m["content"].is_string()) {
          std::string text = m["content"].get<std::string>();
          for (const auto& [from, to] : opts.replace) replace_all(text, from, to);
          m["content"] = text;
        }
      if (conv.text)
        for (const auto& [from, to] : opts.replace) replace_all(*conv.text, from, to);
    }
    auto r = render_conversation(model, conv, opts.train_on_all ? TrainOn::kAll : TrainOn::kAssistant);
    if (!r) {
      render_error = make_error(r.error().code, "row " + std::to_string(row.row) + ": " + r.error().message,
                                r.error().suggestion);
      return false;
    }
    TrainExample ex{std::move(r->ids), std::move(r->mask)};
    if (static_cast<int>(ex.ids.size()) > opts.max_seq_len) {
      ex.ids.resize(static_cast<size_t>(opts.max_seq_len));
      ex.mask.resize(static_cast<size_t>(opts.max_seq_len));
      ++out.truncated;
    }
    if (ex.trained() == 0) {
      ++out.untrained;
      return true;
    }
    out.rows.push_back(std::move(ex));
    return true;
  });
  if (!st.ok()) return st.error();
  if (!render_error.ok()) return render_error.error();
  return out;
}

std::vector<uint64_t> epoch_order(uint64_t n, uint64_t seed, int64_t epoch) {
  return shuffled_indices(n, mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 0x5eed)));
}

}  // namespace cyllm::train
