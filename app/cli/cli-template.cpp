// `cyllm template`: renders a chat template for a messages file and prints exactly the rendered
// text to stdout (no newline of its own). The template is the model's (-m, GGUF) or a file
// (--template); bos/eos default to the model's special tokens. Errors go to stderr, exit code 1
// (2 for usage errors).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/gguf-reader.h"
#include "text/chat-template.h"

namespace cyllm::cli {

namespace {

constexpr const char* kUsage =
    "usage: cyllm template (-m MODEL | --template FILE) --messages FILE.json [--tools FILE.json]\n"
    "                      [--add-generation-prompt] [--bos-token T] [--eos-token T] [--var k=v ...]\n"
    "                      [--name NAME] [--hash]\n"
    "\n"
    "Renders the chat template for the messages and prints exactly the result (no added newline).\n"
    "  -m, --model FILE          GGUF model: its tokenizer.chat_template (or a fallback, stated on stderr)\n"
    "  --template FILE           a Jinja template file (with -m: overrides the model's template)\n"
    "  --name NAME               a named template of the model (tokenizer.chat_template.NAME)\n"
    "  --messages FILE.json      JSON array of messages ('-' reads stdin)\n"
    "  --tools FILE.json         JSON array of tool definitions (the template sees tools=None without it)\n"
    "  --add-generation-prompt   end with the assistant turn header\n"
    "  --bos-token T, --eos-token T   special token texts (default: the model's, with -m)\n"
    "  --var k=v                 extra template variable; v is parsed as JSON when it parses, else a string\n"
    "  --hash                    print the template hash (template text, EOS token) instead of rendering\n";

bool read_json(const std::string& path, const char* what, nlohmann::ordered_json* out) {
  std::string text;
  if (!read_input(path, &text)) {
    std::fprintf(stderr, "cyllm template: cannot read %s file '%s'\n", what, path.c_str());
    return false;
  }
  try {
    *out = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cyllm template: %s file '%s' is not valid JSON: %s\n", what, path.c_str(), e.what());
    return false;
  }
  return true;
}

}  // namespace

int cmd_template(int argc, char** argv) {
  Args args(argc, argv, {"--model", "--template", "--messages", "--tools", "--bos-token", "--eos-token", "--var", "--name"},
            {"--add-generation-prompt", "--hash", "--help"}, {{"-m", "--model"}, {"-h", "--help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "cyllm template: %s\n\n%s", args.error().c_str(), kUsage);
    return 2;
  }
  if (args.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto model = args.get("--model");
  auto tpl_file = args.get("--template");
  if (!model && !tpl_file) {
    std::fprintf(stderr, "cyllm template: give -m MODEL or --template FILE\n\n%s", kUsage);
    return 2;
  }
  if (!args.positionals().empty()) {
    std::fprintf(stderr, "cyllm template: unexpected argument '%s'\n", args.positionals()[0].c_str());
    return 2;
  }

  ChatTemplateInputs in;
  std::string tpl_text;
  if (tpl_file && !read_input(*tpl_file, &tpl_text)) {
    std::fprintf(stderr, "cyllm template: cannot read template file '%s'\n", tpl_file->c_str());
    return 1;
  }

  std::optional<Result<ChatTemplate>> tpl;
  if (model) {
    auto g = GgufFile::open(*model);
    if (!g.ok()) {
      std::fprintf(stderr, "cyllm template: %s\n", g.error().to_string().c_str());
      return 1;
    }
    tpl.emplace(ChatTemplate::from_gguf(*g, args.get_or("--name", ""), tpl_text));
    in.bos_token = gguf_token_text(*g, "tokenizer.ggml.bos_token_id");
    in.eos_token = gguf_token_text(*g, "tokenizer.ggml.eos_token_id");
  } else {
    tpl.emplace(ChatTemplate::from_text(tpl_text, "template file " + *tpl_file));
  }
  if (!tpl->ok()) {
    std::fprintf(stderr, "cyllm template: %s\n", tpl->error().to_string().c_str());
    return 1;
  }
  const ChatTemplate& ct = tpl->value();
  if (ct.is_fallback()) std::fprintf(stderr, "cyllm template: using %s\n", ct.origin().c_str());
  if (auto b = args.get("--bos-token")) in.bos_token = *b;
  if (auto e = args.get("--eos-token")) in.eos_token = *e;

  if (args.flag("--hash")) {
    std::string h = chat_template_hash_hex(ct.text(), in.eos_token.value_or(""));
    std::fwrite(h.data(), 1, h.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  auto msgs = args.get("--messages");
  if (!msgs) {
    std::fprintf(stderr, "cyllm template: --messages FILE.json is required\n\n%s", kUsage);
    return 2;
  }
  if (!read_json(*msgs, "messages", &in.messages)) return 1;
  if (!in.messages.is_array()) {
    std::fprintf(stderr, "cyllm template: messages file must hold a JSON array\n");
    return 1;
  }
  if (auto t = args.get("--tools")) {
    if (!read_json(*t, "tools", &in.tools)) return 1;
  }
  in.add_generation_prompt = args.flag("--add-generation-prompt");
  for (const auto& kv : args.get_all("--var")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "cyllm template: --var needs key=value, got '%s'\n", kv.c_str());
      return 2;
    }
    std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(val);
    } catch (...) {
      j = val;  // not JSON: a plain string
    }
    in.extra_vars.emplace_back(std::move(key), std::move(j));
  }

  auto out = ct.render(in);
  if (!out.ok()) {
    std::fprintf(stderr, "cyllm template: %s\n", out.error().to_string().c_str());
    return 1;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace cyllm::cli
