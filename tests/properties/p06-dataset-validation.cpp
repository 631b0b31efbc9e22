// Property 6 (SPEC.md): dataset validation completeness. Generated datasets (alpaca, messages,
// ShareGPT, text) written as JSONL, JSON or CSV, under a file name whose extension may lie, with
// problems injected into random rows: missing/empty fields, wrong types, invalid UTF-8, bad role
// order, unknown roles, empty turns, malformed rows and duplicates. Every injected problem must be
// reported at its row with its field and reason, nothing else may be reported, a dataset without
// injections must validate clean, and the format must be detected from the content.
// (Parquet cannot be written from C++ here; tests/python/test_datasets_crossformat.py covers it.)
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "train/dataset-validate.h"

namespace {

using json = nlohmann::ordered_json;
using cyllm::train::DatasetFormat;
using cyllm::train::Schema;

constexpr const char* kBad = "@@BAD@@";  // replaced by invalid UTF-8 bytes after serialising

struct Expect {
  uint64_t row;
  std::string field;
  std::string reason;  // a prefix for malformed rows ("invalid JSON")
  bool operator<(const Expect& o) const {
    return std::tie(row, field, reason) < std::tie(o.row, o.field, o.reason);
  }
};

std::string gen_text(int i) {
  static const std::vector<std::string> kPieces = {"a", "b", "z", " ", "é", "中文", "😀", ",", "\"", "\n", "\\",
                                                   "x y", "'", "\t", "{", "]"};
  auto n = *rc::gen::inRange(0, 12);
  std::string s = "r" + std::to_string(i) + ":";
  for (int k = 0; k < n; ++k) s += kPieces[*rc::gen::inRange<size_t>(0, kPieces.size())];
  return s;
}

// Content as a string or a list of text parts.
json gen_content(const std::string& s, bool parts_ok) {
  if (parts_ok && *rc::gen::inRange(0, 3) == 0) return json::array({json{{"type", "text"}, {"text", s}}});
  return s;
}

struct Dataset {
  std::vector<std::string> rows_text;  // serialised rows (JSON) or CSV records
  std::vector<Expect> expect;
};

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos && !s.empty()) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

std::vector<std::string> columns_of(Schema s) {
  if (s == Schema::kAlpaca) return {"instruction", "input", "output"};
  return {"text"};
}

// Builds one dataset; returns its bytes.
std::string build(Schema schema, DatasetFormat fmt, int n, std::vector<Expect>* expect) {
  bool csv = fmt == DatasetFormat::kCsv;
  bool chat = schema == Schema::kMessages || schema == Schema::kShareGpt;
  bool sg = schema == Schema::kShareGpt;
  std::string list = sg ? "conversations" : "messages", rk = sg ? "from" : "role", ck = sg ? "value" : "content";
  std::string user = sg ? "human" : "user", asst = sg ? "gpt" : "assistant";
  std::vector<json> rows;
  std::vector<std::string> raw(n);  // non-empty: a malformed row's text
  std::vector<bool> valid(n, false);
  // One row (the anchor) stays valid so the schema is always recognisable; others get a problem
  // 40% of the time, the first row included.
  int anchor = *rc::gen::inRange(0, n);
  for (int i = 0; i < n; ++i) {
    uint64_t rowno = static_cast<uint64_t>(i + 1);
    json r = json::object();
    if (schema == Schema::kAlpaca) {
      r["instruction"] = gen_text(i);
      r["input"] = *rc::gen::inRange(0, 2) ? gen_text(i) : std::string();
      r["output"] = gen_text(i);
    } else if (schema == Schema::kText) {
      r["text"] = gen_text(i);
    } else {
      json turns = json::array();
      int pairs = *rc::gen::inRange(1, 3);
      if (*rc::gen::inRange(0, 3) == 0) turns.push_back(json{{rk, "system"}, {ck, gen_content(gen_text(i), !sg)}});
      for (int p = 0; p < pairs; ++p) {
        turns.push_back(json{{rk, user}, {ck, gen_content(gen_text(i), !sg)}});
        turns.push_back(json{{rk, asst}, {ck, gen_content(gen_text(i), !sg)}});
      }
      r[list] = turns;
    }
    int kind = i == anchor ? -1 : *rc::gen::inRange(-6, 8);
    if (kind == 0 && std::find(valid.begin(), valid.begin() + i, true) == valid.begin() + i) kind = -1;
    auto bad_field = [&](const std::string& f) {
      r[f] = std::string("x") + kBad;
      expect->push_back({rowno, f, "invalid UTF-8"});
    };
    bool injected = true;
    if (kind < 0) {
      injected = false;
    } else if (kind == 0) {  // duplicate of an earlier valid row
      std::vector<int> earlier;
      for (int j = 0; j < i; ++j)
        if (valid[j]) earlier.push_back(j);
      int j = earlier[*rc::gen::inRange<size_t>(0, earlier.size())];
      r = rows[j];
      expect->push_back({rowno, "", "duplicate of row " + std::to_string(j + 1)});
    } else if (kind == 1) {  // malformed row
      if (csv) {
        raw[i] = "a,b,c,d,e";
        expect->push_back({rowno, "", "expected " + std::to_string(columns_of(schema).size()) + " fields, got 5"});
      } else {
        raw[i] = "{\"" + list + "\": [1, 2,]}";
        expect->push_back({rowno, "", "invalid JSON"});
      }
    } else if (schema == Schema::kAlpaca) {
      switch (kind % 4) {
        case 0:  // empty output
          r["output"] = "";
          expect->push_back({rowno, "output", "empty"});
          break;
        case 1:
          if (csv) {
            r["output"] = "";
            expect->push_back({rowno, "output", "empty"});
          } else {
            r.erase("output");
            expect->push_back({rowno, "output", "missing"});
          }
          break;
        case 2:
          if (csv) {
            bad_field("instruction");
          } else {
            r["instruction"] = 42;
            expect->push_back({rowno, "instruction", "expected a string, got number"});
          }
          break;
        case 3: bad_field("output"); break;
      }
    } else if (schema == Schema::kText) {
      switch (kind % 3) {
        case 0:
          r["text"] = "";
          expect->push_back({rowno, "text", "empty"});
          break;
        case 1:
          if (csv) {
            bad_field("text");
          } else {
            r["text"] = json::array({1});
            expect->push_back({rowno, "text", "expected a string, got array"});
          }
          break;
        case 2: bad_field("text"); break;
      }
    } else if (chat) {
      json& t = r[list];
      size_t first_user = t[0][rk] == "system" ? 1 : 0;
      size_t last = t.size() - 1;
      std::string path_last = list + "[" + std::to_string(last) + "]";
      switch (kind % 6) {
        case 0:
          t[last][ck] = "";
          expect->push_back({rowno, path_last + "." + ck, "empty turn"});
          break;
        case 1:
          t[last][rk] = "bot";
          expect->push_back({rowno, path_last + "." + rk, "unknown role 'bot'"});
          break;
        case 2:  // the first user turn becomes an assistant turn
          t[first_user][rk] = asst;
          expect->push_back({rowno, list + "[" + std::to_string(first_user) + "]." + rk,
                             "bad role order: the conversation must start with a user turn, not 'assistant'"});
          break;
        case 3:
          t[last][ck] = 7;
          expect->push_back({rowno, path_last + "." + ck, "expected a string or a list of content parts, got number"});
          break;
        case 4:
          r.erase(list);
          r["id"] = i;
          expect->push_back({rowno, list, "missing"});
          break;
        case 5:
          t[last][ck] = std::string("y") + kBad;
          expect->push_back({rowno, path_last + "." + ck, "invalid UTF-8"});
          break;
      }
    }
    valid[i] = !injected;
    rows.push_back(r);
  }
  // Serialise.
  std::string out;
  std::vector<std::string> cols = columns_of(schema);
  if (csv) {
    for (size_t c = 0; c < cols.size(); ++c) out += (c ? "," : "") + cols[c];
    out += "\r\n";
  } else if (fmt == DatasetFormat::kJson) {
    out += "[\n";
  }
  for (int i = 0; i < n; ++i) {
    std::string rec;
    if (!raw[i].empty()) rec = raw[i];
    else if (csv) {
      for (size_t c = 0; c < cols.size(); ++c)
        rec += (c ? "," : "") + csv_quote(rows[i].contains(cols[c]) ? rows[i][cols[c]].get<std::string>() : "");
    } else {
      rec = rows[i].dump(fmt == DatasetFormat::kJson && *rc::gen::inRange(0, 2) ? 2 : -1);
    }
    if (fmt == DatasetFormat::kJson) out += (i ? ",\n" : "") + rec;
    else out += rec + (csv ? "\r\n" : "\n");
  }
  if (fmt == DatasetFormat::kJson) out += "\n]\n";
  for (size_t p; (p = out.find(kBad)) != std::string::npos;) out.replace(p, std::string(kBad).size(), "\xff\xc3(");
  return out;
}

}  // namespace

RC_GTEST_PROP(P06DatasetValidation, InjectedProblemsAreReportedExactly, ()) {
  auto schema = *rc::gen::element(Schema::kAlpaca, Schema::kMessages, Schema::kShareGpt, Schema::kText);
  bool flat = schema == Schema::kAlpaca || schema == Schema::kText;
  auto fmt = flat ? *rc::gen::element(DatasetFormat::kJsonl, DatasetFormat::kJson, DatasetFormat::kCsv)
                  : *rc::gen::element(DatasetFormat::kJsonl, DatasetFormat::kJson);
  int n = *rc::gen::inRange(1, 25);
  std::vector<Expect> expect;
  std::string bytes = build(schema, fmt, n, &expect);
  // Write under an extension that may lie about the format.
  std::string ext = *rc::gen::element<std::string>(".jsonl", ".json", ".csv", ".parquet", ".txt", "");
  static int counter = 0;
  std::string path = testing::TempDir() + "p06-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ext;
  {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
  }
  cyllm::train::ValidationOptions opts;
  auto res = cyllm::train::validate_file(path, opts);
  std::remove(path.c_str());
  RC_LOG() << "schema " << static_cast<int>(schema) << " format " << static_cast<int>(fmt) << " file:\n" << bytes << "\n";
  RC_ASSERT(res.ok());
  RC_ASSERT(static_cast<int>(res->format) == static_cast<int>(fmt));
  RC_ASSERT(static_cast<int>(res->schema) == static_cast<int>(schema));
  RC_ASSERT(res->rows == static_cast<uint64_t>(n));
  std::set<uint64_t> bad_rows;
  for (const auto& e : expect) bad_rows.insert(e.row);
  RC_ASSERT(res->valid_rows == static_cast<uint64_t>(n) - bad_rows.size());
  std::vector<Expect> got;
  for (const auto& p : res->problems) got.push_back({p.row, p.field, p.reason});
  std::sort(got.begin(), got.end());
  std::sort(expect.begin(), expect.end());
  if (expect.empty()) RC_ASSERT(got.empty());
  RC_ASSERT(got.size() == expect.size());
  for (size_t i = 0; i < got.size(); ++i) {
    RC_ASSERT(got[i].row == expect[i].row);
    RC_ASSERT(got[i].field == expect[i].field);
    if (expect[i].reason == "invalid JSON") RC_ASSERT(got[i].reason.rfind("invalid JSON", 0) == 0);
    else RC_ASSERT(got[i].reason == expect[i].reason);
  }
}
