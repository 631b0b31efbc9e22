// `cyllm validate DATASET [-m MODEL] [--cutoff N] [--json] [--schema S] [--format F] [--map field=column ...]`:
// checks every row of a dataset and reports each problem with its row, field and reason. Rows
// count from 1 as the file presents them (JSONL line, JSON array index + 1, CSV/Parquet record).
// Exit code: 0 no problems, 1 problems, 2 the file cannot be read (or bad usage).
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/dataset-validate.h"

namespace cyllm::cli {

namespace {

constexpr const char* kUsage =
    "usage: cyllm validate DATASET [-m MODEL] [--cutoff N] [--json] [--schema S] [--format F]\n"
    "                      [--map field=column ...] [--max-problems N]\n"
    "\n"
    "Checks every row of a JSONL, JSON, CSV or Parquet dataset (format detected from the content).\n"
    "  -m, --model FILE    GGUF model: count tokens with its tokenizer and chat template\n"
    "  --cutoff N          with -m: rows longer than N tokens are problems (default 2048)\n"
    "  --json              print one JSON object: format, schema, rows, valid_rows, problems, token_lengths\n"
    "  --schema S          alpaca | messages | sharegpt | text (default: detected)\n"
    "  --format F          jsonl | json | csv | parquet (default: detected from the content)\n"
    "  --map field=column  read a schema field from another column, e.g. --map output=response\n"
    "  --max-problems N    problems listed (all are counted; default 100000)\n"
    "Exit code: 0 no problems, 1 problems found, 2 the file cannot be read.\n";

}  // namespace

int cmd_validate(int argc, char** argv) {
  Args args(argc, argv, {"--model", "--cutoff", "--schema", "--format", "--map", "--max-problems"},
            {"--json", "--help"}, {{"-m", "--model"}, {"-h", "--help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "cyllm validate: %s\n\n%s", args.error().c_str(), kUsage);
    return 2;
  }
  if (args.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positionals().size() != 1) {
    std::fprintf(stderr, "cyllm validate: give exactly one DATASET file\n\n%s", kUsage);
    return 2;
  }
  const std::string path = args.positionals()[0];
  train::ValidationOptions opts;
  long long cutoff = args.get_int("--cutoff", 2048);
  long long maxp = args.get_int("--max-problems", 100000);
  if (!args.ok() || cutoff < 0 || maxp < 0) {
    std::fprintf(stderr, "cyllm validate: %s\n", args.ok() ? "numbers must not be negative" : args.error().c_str());
    return 2;
  }
  opts.max_problems = static_cast<size_t>(maxp);
  if (auto s = args.get("--schema")) {
    opts.schema = train::parse_schema_name(*s);
    if (!opts.schema) {
      std::fprintf(stderr, "cyllm validate: unknown schema '%s' (alpaca, messages, sharegpt, text)\n", s->c_str());
      return 2;
    }
  }
  if (auto f = args.get("--format")) {
    opts.format = train::parse_format_name(*f);
    if (!opts.format) {
      std::fprintf(stderr, "cyllm validate: unknown format '%s' (jsonl, json, csv, parquet)\n", f->c_str());
      return 2;
    }
  }
  auto map = train::ColumnMap::parse(args.get_all("--map"));
  if (!map) {
    std::fprintf(stderr, "cyllm validate: %s\n", map.error().to_string().c_str());
    return 2;
  }
  opts.map = *map;
  std::optional<train::RenderModel> model;
  if (auto m = args.get("--model")) {
    auto rm = train::RenderModel::from_gguf(*m);
    if (!rm) {
      std::fprintf(stderr, "cyllm validate: %s\n", rm.error().to_string().c_str());
      return 2;
    }
    model.emplace(std::move(rm.value()));
    opts.model = &*model;
    opts.cutoff = static_cast<uint64_t>(cutoff);
  }
  if (!model && args.get("--cutoff"))
    std::fprintf(stderr, "cyllm validate: --cutoff needs -m MODEL (token counts come from its tokenizer); not checked\n");
  auto res = train::validate_file(path, opts);
  if (!res) {
    if (args.flag("--json")) {
      nlohmann::ordered_json j = {{"error", res.error().message}};
      std::printf("%s\n", j.dump().c_str());
    }
    std::fprintf(stderr, "cyllm validate: %s: %s\n", path.c_str(), res.error().to_string().c_str());
    return 2;
  }
  const auto& r = *res;
  if (args.flag("--json")) {
    std::printf("%s\n", train::to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return r.problem_count ? 1 : 0;
  }
  std::printf("%s: %s, schema %s%s\n", path.c_str(), std::string(train::format_name(r.format)).c_str(),
              std::string(train::schema_name(r.schema)).c_str(),
              r.schema_detected ? "" : " (no row had a known field; assumed)");
  std::printf("rows: %llu, valid: %llu, problems: %llu\n", static_cast<unsigned long long>(r.rows),
              static_cast<unsigned long long>(r.valid_rows), static_cast<unsigned long long>(r.problem_count));
  for (const auto& p : r.problems) {
    std::string where = "row " + std::to_string(p.row);
    if (p.line) where += " (line " + std::to_string(p.line) + ")";
    else if (r.format != train::DatasetFormat::kParquet) where += " (byte " + std::to_string(p.offset) + ")";
    std::printf("  %s: %s: %s\n", where.c_str(), p.field.empty() ? "(row)" : p.field.c_str(), p.reason.c_str());
  }
  if (r.problems.size() < r.problem_count)
    std::printf("  ... %llu more not listed (--max-problems)\n",
                static_cast<unsigned long long>(r.problem_count - r.problems.size()));
  if (r.tokenized && r.token_lengths.count) {
    const auto& h = r.token_lengths;
    std::printf("token lengths: min %llu, max %llu, mean %.1f (cutoff %llu)\n", static_cast<unsigned long long>(h.min),
                static_cast<unsigned long long>(h.max), static_cast<double>(h.total) / static_cast<double>(h.count),
                static_cast<unsigned long long>(opts.cutoff));
    for (size_t k = 0; k < h.buckets.size(); ++k)
      if (h.buckets[k])
        std::printf("  <= %-8llu %llu\n", 1ull << k, static_cast<unsigned long long>(h.buckets[k]));
  }
  return r.problem_count ? 1 : 0;
}

}  // namespace cyllm::cli
