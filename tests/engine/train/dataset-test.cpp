// Tests of engine/train: every shared demo dataset is detected (format and schema), validates
// (its only problems are its real duplicate rows, found independently here) and renders with the
// SmolLM2 chat template; Parquet fixtures read back equal to their JSON sources; CSV and JSON edge
// cases; format detection ignores extensions; the split is deterministic.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "support/test-paths.h"
#include "train/dataset-split.h"
#include "train/dataset-validate.h"
#include "train/json-fast.h"

namespace {

using json = nlohmann::ordered_json;
using namespace cyllm;
using namespace cyllm::train;

DatasetFormat fmt_of(std::string_view s) {
  auto r = detect_format(s);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r.value() : DatasetFormat::kCsv;
}

struct Shared {
  const char* file;
  DatasetFormat format;
  Schema schema;
};
const Shared kShared[] = {
    {"alpaca_en_demo.json", DatasetFormat::kJson, Schema::kAlpaca},
    {"alpaca_zh_demo.json", DatasetFormat::kJson, Schema::kAlpaca},
    {"identity.json", DatasetFormat::kJson, Schema::kAlpaca},
    {"glaive_toolcall_en_demo.json", DatasetFormat::kJson, Schema::kShareGpt},
    {"v1_sft_demo.jsonl", DatasetFormat::kJsonl, Schema::kMessages},
    {"c4_demo.jsonl", DatasetFormat::kJsonl, Schema::kText},
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The rows as an independent parser sees them.
std::vector<json> source_rows(const std::string& path, DatasetFormat f) {
  std::string s = slurp(path);
  std::vector<json> rows;
  if (f == DatasetFormat::kJson) {
    for (auto& r : json::parse(s)) rows.push_back(r);
  } else {
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

json strip_nulls(const json& v) {
  if (v.is_object()) {
    json o = json::object();
    for (auto it = v.begin(); it != v.end(); ++it)
      if (!it->is_null()) o[it.key()] = strip_nulls(it.value());
    return o;
  }
  if (v.is_array()) {
    json a = json::array();
    for (const auto& e : v) a.push_back(strip_nulls(e));
    return a;
  }
  return v;
}

TEST(SharedDatasets, DetectedAndValidatedWithTheirRealDuplicatesOnly) {
  for (const auto& d : kShared) {
    CYLLM_REQUIRE_SHARED_FILE(path, std::string("data/datasets/") + d.file);
    SCOPED_TRACE(d.file);
    auto rows = source_rows(path, d.format);
    // Independent duplicate finding: identical rows.
    std::map<std::string, uint64_t> first;
    std::vector<std::pair<uint64_t, std::string>> expect;
    for (size_t i = 0; i < rows.size(); ++i) {
      auto [it, fresh] = first.emplace(rows[i].dump(), i + 1);
      if (!fresh) expect.emplace_back(i + 1, "duplicate of row " + std::to_string(it->second));
    }
    auto res = validate_file(path, {});
    ASSERT_TRUE(res.ok()) << res.error().to_string();
    EXPECT_EQ(res->format, d.format);
    EXPECT_EQ(res->schema, d.schema);
    EXPECT_TRUE(res->schema_detected);
    EXPECT_EQ(res->rows, rows.size());
    EXPECT_EQ(res->valid_rows, rows.size() - expect.size());
    ASSERT_EQ(res->problems.size(), expect.size());
    for (size_t i = 0; i < expect.size(); ++i) {
      EXPECT_EQ(res->problems[i].row, expect[i].first);
      EXPECT_EQ(res->problems[i].field, "");
      EXPECT_EQ(res->problems[i].reason, expect[i].second);
    }
    if (d.format == DatasetFormat::kJsonl)
      for (const auto& p : res->problems) EXPECT_EQ(p.line, p.row);
  }
}

TEST(SharedDatasets, RenderWithSmolLM2Template) {
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path);
  auto model = RenderModel::from_gguf(model_path);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  const Tokenizer& tok = *model->tokenizer;
  for (const auto& d : kShared) {
    CYLLM_REQUIRE_SHARED_FILE(path, std::string("data/datasets/") + d.file);
    SCOPED_TRACE(d.file);
    std::string data = slurp(path);
    ColumnMap map;
    bool detected;
    auto schema = detect_schema(d.format, data, &map, &detected);
    ASSERT_TRUE(schema.ok());
    int rendered = 0;
    auto st = for_each_conversation(d.format, *schema, map, data, [&](const RawRow& r, bool ok, const Conversation& c) {
      if (!ok) return true;
      auto rr = render_conversation(*model, c, TrainOn::kAssistant);
      EXPECT_TRUE(rr.ok()) << "row " << r.row << ": " << rr.error().to_string();
      if (!rr.ok()) return false;
      EXPECT_EQ(rr->ids.size(), rr->mask.size());
      // Span-by-span tokenization gives the same ids as tokenizing the whole text.
      EXPECT_EQ(rr->ids, tok.encode(rr->text, false, true)) << "row " << r.row;
      EXPECT_EQ(tok.decode(rr->ids), rr->text);
      auto n = count_tokens(*model, c);
      EXPECT_TRUE(n.ok() && *n == rr->ids.size());
      // Decoding the masked tokens gives exactly the trained spans' text.
      std::string trained_text, spans_text;
      for (size_t i = 0; i < rr->ids.size(); ++i)
        if (rr->mask[i]) trained_text += tok.token_piece(rr->ids[i]);
      for (auto [a, b] : rr->trained) spans_text += rr->text.substr(a, b - a);
      EXPECT_EQ(trained_text, spans_text);
      if (c.text) {
        EXPECT_EQ(rr->text, *c.text + "<|im_end|>");
        EXPECT_EQ(rr->trained.size(), 1u);
      } else {
        EXPECT_EQ(rr->text.rfind("<|im_start|>", 0), 0u);
        // One span per assistant message: its content followed by the end-of-turn marker.
        std::vector<std::string> want;
        for (const auto& m : c.messages)
          if (m["role"] == "assistant") want.push_back(m["content"].get<std::string>() + "<|im_end|>\n");
        EXPECT_EQ(rr->trained.size(), want.size());
        for (size_t k = 0; k < want.size() && k < rr->trained.size(); ++k)
          EXPECT_EQ(rr->text.substr(rr->trained[k].first, rr->trained[k].second - rr->trained[k].first), want[k]);
        auto all = render_conversation(*model, c, TrainOn::kAll);
        EXPECT_TRUE(all.ok());
        if (all.ok()) {
          for (auto m : all->mask) EXPECT_EQ(m, 1);
          EXPECT_EQ(all->ids, rr->ids);
        }
      }
      return ++rendered < 25;
    });
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(rendered, 25);
    // Token counting through validation: every valid row is counted.
    ValidationOptions o;
    o.model = &*model;
    o.cutoff = 100000;
    auto res = validate_file(path, o);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->token_lengths.count, res->valid_rows);
    EXPECT_GT(res->token_lengths.min, 10u);
    uint64_t sum = 0;
    for (auto b : res->token_lengths.buckets) sum += b;
    EXPECT_EQ(sum, res->valid_rows);
    // A cutoff below the longest row flags exactly the rows above it.
    o.cutoff = res->token_lengths.max - 1;
    auto cut = validate_file(path, o);
    ASSERT_TRUE(cut.ok());
    EXPECT_LT(cut->valid_rows, res->valid_rows);
    uint64_t over = 0;
    for (const auto& p : cut->problems) over += p.reason.find("over the cutoff") != std::string::npos;
    EXPECT_EQ(over, res->valid_rows - cut->valid_rows);
  }
}

struct Fixture {
  const char* parquet;
  const char* source;
  DatasetFormat source_format;
  Schema schema;
};
const Fixture kFixtures[] = {
    {"alpaca-snappy.parquet", "alpaca_en_demo.json", DatasetFormat::kJson, Schema::kAlpaca},
    {"sharegpt-zstd.parquet", "glaive_toolcall_en_demo.json", DatasetFormat::kJson, Schema::kShareGpt},
    {"messages-gzip-v2.parquet", "v1_sft_demo.jsonl", DatasetFormat::kJsonl, Schema::kMessages},
    {"alpaca-none-plain.parquet", "identity.json", DatasetFormat::kJson, Schema::kAlpaca},
    {"alpaca-zh-small-rowgroups.parquet", "alpaca_zh_demo.json", DatasetFormat::kJson, Schema::kAlpaca},
};

TEST(Parquet, FixturesReadBackAsTheirJsonSources) {
  for (const auto& fx : kFixtures) {
    SCOPED_TRACE(fx.parquet);
    CYLLM_REQUIRE_SHARED_FILE(src, std::string("data/datasets/") + fx.source);
    std::string data = slurp(std::string(CYLLM_TRAIN_TEST_DATA) + "/" + fx.parquet);
    ASSERT_FALSE(data.empty());
    auto f = detect_format(data);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f, DatasetFormat::kParquet);
    auto want = source_rows(src, fx.source_format);
    std::vector<json> got;
    auto st = read_parquet(data, [&](RawRow& r) {
      EXPECT_TRUE(r.error.empty());
      EXPECT_EQ(r.row, got.size() + 1);
      got.push_back(r.value);
      return true;
    });
    ASSERT_TRUE(st.ok()) << st.error().to_string();
    ASSERT_GT(got.size(), 0u);
    // Key order follows the Parquet schema (pyarrow may order struct fields its own way): compare as
    // unordered objects.
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(nlohmann::json::parse(strip_nulls(got[i]).dump()), nlohmann::json::parse(strip_nulls(want[i]).dump()))
          << "row " << i + 1;
    auto res = validate_buffer(data, {});
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->schema, fx.schema);
    EXPECT_EQ(res->rows, got.size());
  }
}

TEST(Parquet, TruncatedAndCorruptFilesAreErrorsNotCrashes) {
  std::string data = slurp(std::string(CYLLM_TRAIN_TEST_DATA) + "/sharegpt-zstd.parquet");
  ASSERT_GT(data.size(), 100u);
  for (size_t cut : {size_t{8}, size_t{100}, data.size() / 2}) {
    std::string t = data.substr(0, cut) + "PAR1";
    auto st = read_parquet(t, [](RawRow&) { return true; });
    EXPECT_FALSE(st.ok());
  }
  std::string c = data;
  for (size_t i = 4; i < c.size() / 2; i += 7) c[i] = static_cast<char>(c[i] ^ 0x5A);
  (void)read_parquet(c, [](RawRow&) { return true; });  // any result, no crash
}

Result<ValidationResult> validate_text(const std::string& s, const ValidationOptions& o = {}) {
  return validate_buffer(s, o);
}

TEST(Formats, DetectedFromContentNotExtension) {
  EXPECT_EQ(fmt_of("{\"text\": \"a\"}\n{\"text\": \"b\"}\n"), DatasetFormat::kJsonl);
  EXPECT_EQ(fmt_of("\xEF\xBB\xBF  [ {\"text\": \"a\"} ]"), DatasetFormat::kJson);
  EXPECT_EQ(fmt_of("{\n  \"data\": [ {\"text\": \"a\"} ]\n}"), DatasetFormat::kJson);
  EXPECT_EQ(fmt_of("{\"data\": [{\"text\": \"a\"}]}"), DatasetFormat::kJson);
  EXPECT_EQ(fmt_of("{\"text\": \"only one row\"}"), DatasetFormat::kJsonl);
  EXPECT_EQ(fmt_of("text\nhello\n"), DatasetFormat::kCsv);
  // JSON Lines whose first row is broken or not an object is still JSON Lines.
  EXPECT_EQ(fmt_of("{\"text\": \"a\",}\n{\"text\": \"b\"}\n"), DatasetFormat::kJsonl);
  EXPECT_EQ(fmt_of("[1, 2]\n{\"text\": \"b\"}\n"), DatasetFormat::kJsonl);
  EXPECT_EQ(fmt_of("{\"text\": \"\xff\"}\n"), DatasetFormat::kJsonl);
  EXPECT_EQ(fmt_of("[\n{\"text\": \"a\"}\n]\n"), DatasetFormat::kJson);
  // Text after a JSON array is not silently ignored.
  EXPECT_FALSE(validate_text("[{\"text\": \"a\"}] {\"text\": \"b\"}").ok());
  EXPECT_FALSE(detect_format("").ok());
  EXPECT_FALSE(detect_format(std::string("\x01\x00\x02garbage", 10)).ok());
  // A file named .parquet that holds JSON Lines.
  std::string path = testing::TempDir() + "looks-like.parquet";
  std::ofstream(path) << "{\"text\": \"a\"}\n{\"text\": \"b\"}\n";
  auto r = validate_file(path, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->format, DatasetFormat::kJsonl);
  EXPECT_EQ(r->valid_rows, 2u);
  EXPECT_FALSE(validate_file(testing::TempDir() + "no-such-file.jsonl", {}).ok());
}

TEST(Formats, JsonObjectHoldingAnArray) {
  auto r = validate_text("{\"version\": 1, \"meta\": {\"x\": [1]}, \"data\": [\n{\"text\": \"a\"},\n{\"text\": \"\"}\n]}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->format, DatasetFormat::kJson);
  EXPECT_EQ(r->rows, 2u);
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_EQ(r->problems[0].row, 2u);
  EXPECT_EQ(r->problems[0].line, 3u);
  EXPECT_EQ(r->problems[0].field, "text");
  EXPECT_EQ(r->problems[0].reason, "empty");
}

TEST(Formats, CsvQuotingMultilineBomAndFieldCounts) {
  std::string csv =
      "\xEF\xBB\xBFinstruction,input,output\r\n"
      "\"say \"\"hi\"\"\",,\"line one\nline two, with comma\"\r\n"
      "a,b\r\n"
      "\r\n"
      "q,,\r\n"
      "\"x\",\"y\",\"z\"";
  auto r = validate_text(csv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->format, DatasetFormat::kCsv);
  EXPECT_EQ(r->schema, Schema::kAlpaca);
  EXPECT_EQ(r->rows, 4u);
  EXPECT_EQ(r->valid_rows, 2u);
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_EQ(r->problems[0].row, 2u);
  EXPECT_EQ(r->problems[0].line, 4u);  // the first record spans lines 2 and 3
  EXPECT_EQ(r->problems[0].reason, "expected 3 fields, got 2");
  EXPECT_EQ(r->problems[1].row, 3u);
  EXPECT_EQ(r->problems[1].field, "output");
  EXPECT_EQ(r->problems[1].reason, "empty");
  std::vector<json> rows;
  ASSERT_TRUE(read_csv(csv, [&](RawRow& rr) {
                if (rr.error.empty()) rows.push_back(rr.value);
                return true;
              }).ok());
  ASSERT_GE(rows.size(), 1u);
  EXPECT_EQ(rows[0]["instruction"], "say \"hi\"");
  EXPECT_EQ(rows[0]["output"], "line one\nline two, with comma");
  auto u = validate_text("text\n\"never closed\n");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->problems.size(), 1u);
  EXPECT_NE(u->problems[0].reason.find("unterminated"), std::string::npos);
}

TEST(Schemas, MessagesProblemsAndColumnMapping) {
  std::string jsonl =
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"user\", \"content\": \"again\"}]}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}]}, {\"role\": \"assistant\", \"content\": \"x\"}]}\n"
      "{\"messages\": []}\n"
      "[1, 2]\n";
  auto r = validate_text(jsonl);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->schema, Schema::kMessages);
  ASSERT_EQ(r->problems.size(), 4u);
  EXPECT_EQ(r->problems[0].field, "messages[1].role");
  EXPECT_EQ(r->problems[0].reason, "bad role order: 'user' follows 'user'");
  EXPECT_EQ(r->problems[1].field, "messages[0].content[0].type");
  EXPECT_EQ(r->problems[2].field, "messages");
  EXPECT_EQ(r->problems[2].reason, "empty");
  EXPECT_EQ(r->problems[3].row, 5u);
  EXPECT_EQ(r->problems[3].reason, "expected a row object, got array");

  ValidationOptions o;
  auto map = ColumnMap::parse({"instruction=prompt", "output=response"});
  ASSERT_TRUE(map.ok());
  o.map = *map;
  auto m = validate_text("{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"c\"}\n", o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->schema, Schema::kAlpaca);
  ASSERT_EQ(m->problems.size(), 1u);
  EXPECT_EQ(m->problems[0].field, "response");
  EXPECT_EQ(m->problems[0].reason, "missing");
  EXPECT_FALSE(ColumnMap::parse({"nonsense=x"}).ok());
  EXPECT_FALSE(ColumnMap::parse({"output"}).ok());
}

TEST(Schemas, ShareGptOrderAndAlpacaHistory) {
  std::string sg =
      "[{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"function_call\", \"value\": \"{}\"},"
      " {\"from\": \"observation\", \"value\": \"r\"}, {\"from\": \"gpt\", \"value\": \"a\"}], \"tools\": \"[]\"},\n"
      " {\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"observation\", \"value\": \"r\"}]},\n"
      " {\"conversations\": [{\"from\": \"human\", \"value\": \"q2\"}, {\"from\": \"gpt\", \"value\": \"a\"}], \"tools\": \"not json\"}]";
  auto r = validate_text(sg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->schema, Schema::kShareGpt);
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_EQ(r->problems[0].row, 2u);
  EXPECT_EQ(r->problems[0].field, "conversations[1].from");
  EXPECT_EQ(r->problems[0].reason, "bad role order: 'tool' must follow an assistant tool call");
  EXPECT_EQ(r->problems[1].row, 3u);
  EXPECT_EQ(r->problems[1].field, "tools");

  std::string al =
      "{\"instruction\": \"i\", \"output\": \"o\", \"history\": [[\"a\", \"b\"], [\"c\"]]}\n"
      "{\"instruction\": \"\", \"input\": \"only input\", \"output\": \"o\", \"history\": [[\"a\", \"\"]]}\n"
      "{\"instruction\": \"\", \"input\": \"\", \"output\": \"o\", \"system\": 5}\n";
  auto a = validate_text(al);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->problems.size(), 4u);
  EXPECT_EQ(a->problems[0].field, "history[1]");
  EXPECT_EQ(a->problems[1].field, "history[0][1]");
  EXPECT_EQ(a->problems[1].reason, "empty turn");
  EXPECT_EQ(a->problems[2].field, "system");
  EXPECT_EQ(a->problems[3].field, "instruction");
  EXPECT_EQ(a->problems[3].reason, "empty");
}

TEST(Schemas, InvalidUtf8IsReportedPerField) {
  auto r = validate_text("{\"text\": \"ok\"}\n{\"text\": \"bad \xC3\x28 byte\"}\n{\"text\": \"\xED\xA0\x80 surrogate\"}\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_EQ(r->problems[0].row, 2u);
  EXPECT_EQ(r->problems[0].field, "text");
  EXPECT_EQ(r->problems[0].reason, "invalid UTF-8");
  EXPECT_EQ(r->problems[1].row, 3u);
  EXPECT_EQ(r->valid_rows, 1u);
}

TEST(FastJson, AgreesWithNlohmann) {
  const std::vector<std::string> cases = {
      "{}", "[]", " {\"a\" : [1, -0, 0.5, -1.25e-3, 1E2, 18446744073709551615, 18446744073709551616,"
      " -9223372036854775808, -9223372036854775809, true, false, null]} ",
      "{\"s\": \"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\\b\\f\\r\"}", "{\"a\": 1, \"b\": 2, \"a\": 3}",
      "\"plain ascii string longer than eight bytes\"", "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"",
      // Rejected by both:
      "{\"a\": 1,}", "[1 2]", "01", "1.", ".5", "+1", "-", "1e", "tru", "nul", "\"\\ud800\"", "\"\\udc00\"",
      "\"\\x\"", "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"abc", "{\"a\" 1}",
      "[1] x", "1e99999", "", "   "};
  for (const auto& c : cases) {
    json fast, ref;
    std::string err;
    bool ok = parse_json_fast(c, &fast, &err);
    bool ref_ok = true;
    try {
      ref = json::parse(c);
    } catch (const std::exception&) {
      ref_ok = false;
    }
    EXPECT_EQ(ok, ref_ok) << c << " / " << err;
    if (ok && ref_ok) EXPECT_EQ(fast.dump(), ref.dump()) << c;
  }
  std::string deep(kMaxJsonDepth + 1, '[');
  json v;
  std::string err;
  EXPECT_FALSE(parse_json_fast(deep + std::string(kMaxJsonDepth + 1, ']'), &v, &err));
  EXPECT_NE(err.find("nesting"), std::string::npos);
}

TEST(Split, DeterministicFromSeedAndAPartition) {
  auto a = split_by_fraction(1000, 0.1, 42), b = split_by_fraction(1000, 0.1, 42), c = split_by_fraction(1000, 0.1, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->eval, b->eval);
  EXPECT_EQ(a->train, b->train);
  EXPECT_NE(a->eval, c->eval);
  EXPECT_EQ(a->eval.size(), 100u);
  EXPECT_EQ(a->train.size(), 900u);
  std::vector<uint64_t> all = a->train;
  all.insert(all.end(), a->eval.begin(), a->eval.end());
  std::sort(all.begin(), all.end());
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(all[i], i);
  // The permutation is fixed by the algorithm, not the standard library: pin the first values.
  EXPECT_EQ(shuffled_indices(10, 1), (std::vector<uint64_t>{4, 2, 8, 1, 9, 3, 0, 6, 7, 5}));
  EXPECT_FALSE(split_by_fraction(10, 1.0, 1).ok());
  EXPECT_EQ(split_by_fraction(10, 0.01, 1)->eval.size(), 1u);
  auto e = split_with_eval_file(5, 3, 7);
  EXPECT_EQ(e.train.size(), 5u);
  EXPECT_EQ(e.eval.size(), 3u);
}

}  // namespace
