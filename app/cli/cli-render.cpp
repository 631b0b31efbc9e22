// `cyllm render DATASET -m MODEL --row R [--train-on assistant|all] [--json] [--color|--no-color]`:
// prints one row as the model will be trained on it: the chat template's text with the trained
// spans marked. On a terminal trained text is green (ANSI); otherwise (or with --no-color) each
// trained span is wrapped in « and ». --json prints {"row","text","trained":[[start,end]...] (byte
// offsets), "ids":[...], "mask":[...]} instead. Rows count as in `cyllm validate`.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/dataset-render.h"
#include "train/dataset-validate.h"

namespace cyllm::cli {

namespace {

constexpr const char* kUsage =
    "usage: cyllm render DATASET -m MODEL --row R [--train-on assistant|all] [--json] [--color|--no-color]\n"
    "                    [--schema S] [--map field=column ...]\n"
    "\n"
    "Prints row R rendered with the model's chat template; trained spans are green on a terminal,\n"
    "else wrapped in «...». --json prints the text, trained byte spans, token ids and loss mask.\n";

}  // namespace

int cmd_render(int argc, char** argv) {
  Args args(argc, argv, {"--model", "--row", "--train-on", "--schema", "--map"},
            {"--json", "--color", "--no-color", "--help"}, {{"-m", "--model"}, {"-h", "--help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "cyllm render: %s\n\n%s", args.error().c_str(), kUsage);
    return 2;
  }
  if (args.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto model_path = args.get("--model");
  long long row_no = args.get_int("--row", 0);
  if (!args.ok() || args.positionals().size() != 1 || !model_path || row_no < 1) {
    std::fprintf(stderr, "cyllm render: give DATASET, -m MODEL and --row R (R >= 1)\n\n%s", kUsage);
    return 2;
  }
  std::string train_on_s = args.get_or("--train-on", "assistant");
  if (train_on_s != "assistant" && train_on_s != "all") {
    std::fprintf(stderr, "cyllm render: --train-on is 'assistant' or 'all'\n");
    return 2;
  }
  auto train_on = train_on_s == "all" ? train::TrainOn::kAll : train::TrainOn::kAssistant;
  auto map = train::ColumnMap::parse(args.get_all("--map"));
  if (!map) {
    std::fprintf(stderr, "cyllm render: %s\n", map.error().to_string().c_str());
    return 2;
  }
  auto file = train::DatasetFile::open(args.positionals()[0]);
  if (!file) {
    std::fprintf(stderr, "cyllm render: %s\n", file.error().to_string().c_str());
    return 2;
  }
  auto fmt = train::detect_format(file->data());
  if (!fmt) {
    std::fprintf(stderr, "cyllm render: %s\n", fmt.error().to_string().c_str());
    return 2;
  }
  train::ColumnMap cm = *map;
  train::Schema schema;
  if (auto s = args.get("--schema")) {
    auto p = train::parse_schema_name(*s);
    if (!p) {
      std::fprintf(stderr, "cyllm render: unknown schema '%s'\n", s->c_str());
      return 2;
    }
    schema = *p;
  } else {
    bool detected = false;
    auto ds = train::detect_schema(*fmt, file->data(), &cm, &detected);
    if (!ds) {
      std::fprintf(stderr, "cyllm render: %s\n", ds.error().to_string().c_str());
      return 2;
    }
    schema = *ds;
  }
  auto model = train::RenderModel::from_gguf(*model_path);
  if (!model) {
    std::fprintf(stderr, "cyllm render: %s\n", model.error().to_string().c_str());
    return 2;
  }
  bool found = false, valid = false;
  train::Conversation conv;
  std::vector<train::FieldProblem> problems;
  auto st = train::for_each_conversation(*fmt, schema, cm, file->data(),
                                         [&](const train::RawRow& r, bool ok, const train::Conversation& c) {
                                           if (r.row != static_cast<uint64_t>(row_no)) return true;
                                           found = true;
                                           valid = ok;
                                           conv = c;
                                           return false;
                                         });
  if (!st.ok()) {
    std::fprintf(stderr, "cyllm render: %s\n", st.error().to_string().c_str());
    return 2;
  }
  if (!found) {
    std::fprintf(stderr, "cyllm render: the dataset has no row %lld\n", row_no);
    return 1;
  }
  if (!valid) {
    std::fprintf(stderr, "cyllm render: row %lld has problems; run `cyllm validate` for details\n", row_no);
    return 1;
  }
  auto r = train::render_conversation(*model, conv, train_on);
  if (!r) {
    std::fprintf(stderr, "cyllm render: %s\n", r.error().to_string().c_str());
    return 1;
  }
  if (args.flag("--json")) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["row"] = row_no;
    j["text"] = r->text;
    j["trained"] = nlohmann::ordered_json::array();
    for (auto [a, b] : r->trained) j["trained"].push_back({a, b});
    j["ids"] = r->ids;
    j["mask"] = r->mask;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return 0;
  }
  bool color = args.flag("--color") || (!args.flag("--no-color") && ::isatty(STDOUT_FILENO));
  std::string out = color ? train::mark_trained(*r, "\x1b[32m", "\x1b[0m") : train::mark_trained(*r, "«", "»");
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (out.empty() || out.back() != '\n') std::fputc('\n', stdout);
  size_t trained = 0;
  for (auto m : r->mask) trained += m;
  std::fprintf(stderr, "row %lld: %zu tokens, %zu trained (%s)\n", row_no, r->ids.size(), trained,
               train_on_s.c_str());
  return 0;
}

}  // namespace cyllm::cli
