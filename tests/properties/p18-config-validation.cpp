// Property 18 — configuration validation completeness: every invalid field of a config is
// reported with its path and reason, nothing else is reported, and a valid config passes.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "core/config-schema.h"

namespace cyllm {
namespace {

using json = nlohmann::json;

ConfigSchema schema() {
  ConfigSchema s;
  s.string("model", {}, true)
      .string("dataset", {}, true)
      .string("device", {"auto", "cpu", "cuda"})
      .integer("seed", 0, 1LL << 62)
      .object("lora", true)
      .integer("lora.rank", 1, 512, true)
      .number("lora.alpha", 0.0, 4096.0)
      .number("lora.dropout", 0.0, 0.99)
      .string_list("lora.targets", {"q", "k", "v", "o", "gate", "up", "down"}, 1)
      .object("optim")
      .number("optim.lr", 1e-8, 1.0, true)
      .string("optim.schedule", {"constant", "linear", "cosine"})
      .integer("optim.warmup_steps", 0, 1000000)
      .boolean("optim.clip");
  return s;
}

json valid() {
  return {{"model", "m.gguf"},
          {"dataset", "d.jsonl"},
          {"device", *rc::gen::element<std::string>("auto", "cpu", "cuda")},
          {"seed", *rc::gen::inRange(0, 1 << 30)},
          {"lora", {{"rank", *rc::gen::inRange(1, 513)}, {"alpha", *rc::gen::inRange(0, 4096)}, {"dropout", 0.1},
                    {"targets", json::array({"q", "v"})}}},
          {"optim", {{"lr", 2e-4}, {"schedule", "cosine"}, {"warmup_steps", 10}, {"clip", true}}}};
}

RC_GTEST_PROP(P18ConfigValidation, ValidConfigsPass, ()) { RC_ASSERT(schema().validate(valid()).empty()); }

RC_GTEST_PROP(P18ConfigValidation, EveryInjectedProblemIsReportedAndNothingElse, ()) {
  json c = valid();
  // Independent injections, each at a different path: what breaks it, and the path to expect.
  struct Injection { std::string path; std::function<void(json&)> apply; };
  const std::vector<Injection> all = {
      {"seed", [](json& j) { j["seed"] = "abc"; }},
      {"device", [](json& j) { j["device"] = "tpu"; }},
      {"lora.rank", [](json& j) { j["lora"]["rank"] = 0; }},
      {"lora.alpha", [](json& j) { j["lora"]["alpha"] = -1; }},
      {"lora.dropout", [](json& j) { j["lora"]["dropout"] = "high"; }},
      {"lora.targets[1]", [](json& j) { j["lora"]["targets"][1] = "mlp"; }},
      {"optim.lr", [](json& j) { j["optim"].erase("lr"); }},
      {"optim.schedule", [](json& j) { j["optim"]["schedule"] = 3; }},
      {"optim.warmup_steps", [](json& j) { j["optim"]["warmup_steps"] = 1.5; }},
      {"optim.clip", [](json& j) { j["optim"]["clip"] = "yes"; }},
      {"model", [](json& j) { j.erase("model"); }},
      {"dataset", [](json& j) { j["dataset"] = ""; }},
      {"batch_sise", [](json& j) { j["batch_sise"] = 8; }},
      {"lora.rnak", [](json& j) { j["lora"]["rnak"] = 8; }},
  };
  const auto picks = *rc::gen::unique<std::vector<size_t>>(rc::gen::inRange<size_t>(0, all.size()));
  std::set<std::string> expect;
  for (size_t i : picks) {
    all[i].apply(c);
    expect.insert(all[i].path);
  }
  const auto problems = schema().validate(c);
  std::set<std::string> got;
  for (const auto& p : problems) {
    RC_ASSERT(!p.reason.empty());
    got.insert(p.path);
  }
  RC_ASSERT(got == expect);
  RC_ASSERT(problems.size() == expect.size());  // one problem per broken field
}

TEST(P18ConfigValidation, MissingRequiredObjectIsOneProblem) {
  json c = {{"model", "m"}, {"dataset", "d"}};
  const auto p = schema().validate(c);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].path, "lora");
  EXPECT_EQ(ConfigSchema::format(p), "lora: is required\n");
}

}  // namespace
}  // namespace cyllm
