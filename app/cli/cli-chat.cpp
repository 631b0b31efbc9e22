// `cyllm chat -m MODEL`: an interactive chat in the terminal. The conversation is rendered with the
// model's chat template each turn; the KV cache keeps the shared prefix, so only the new turn is
// computed. Answers stream to stdout; prompts, help and timings go to stderr, so the output can be
// piped. Commands: /reset, /system TEXT, /exit.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/chat-prompt.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "serve/generator.h"

namespace cyllm::cli {

namespace {
std::string help() {
  return std::string(
             "usage: cyllm chat -m MODEL.gguf [options]\n"
             "Chats with the model using its chat template. Type a message and press Enter.\n"
             "Commands: /reset (new conversation), /system TEXT (set the system prompt), /exit.\n"
             "  -s, --system TEXT    system prompt\n"
             "  -n, --n-predict N    tokens per answer at most (default: 1024)\n"
             "      --template FILE  use this Jinja chat template instead of the model's\n") +
         kModelHelp + kSamplingHelp;
}
}  // namespace

int cmd_chat(int argc, char** argv) {
  std::set<std::string> values = {"--system", "--n-predict", "--template"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  values.insert(kSamplingValueOpts.begin(), kSamplingValueOpts.end());
  auto aliases = kModelAliases;
  aliases.insert({{"-s", "--system"}, {"-n", "--n-predict"}});
  Args a(argc, argv, values, {"--help"}, aliases);
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm chat: %s\n", a.error().c_str());
    std::fprintf(a.ok() ? stdout : stderr, "%s", help().c_str());
    return a.ok() ? 0 : 2;
  }
  auto lm = load_model("chat", a);
  if (!lm) return 1;
  GenerateRequest base;
  if (!parse_sampling("chat", a, lm->model->config().n_vocab, base.sampling)) return 2;
  base.max_tokens = static_cast<int>(a.get_int("--n-predict", 1024));
  std::string system = a.get_or("--system", "");

  std::string template_override;
  if (auto f = a.get("--template")) {
    if (!read_input(*f, &template_override)) {
      std::fprintf(stderr, "cyllm chat: cannot read template file '%s'\n", f->c_str());
      return 1;
    }
  }
  auto prompt = ChatPrompt::create(*lm->model, template_override);
  if (!prompt) {
    std::fprintf(stderr, "cyllm chat: %s\n", prompt.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s\n", (*prompt)->describe().c_str());
  const bool tty = isatty(STDIN_FILENO) != 0;
  if (tty) std::fprintf(stderr, "Type a message; /reset starts over, /system TEXT sets the system prompt, /exit quits.\n");

  Generator gen(*lm->model, *lm->tokenizer, lm->ctx_opts, *lm->pool);
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string line;
  for (;;) {
    if (tty) std::fprintf(stderr, "\n> ");
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages = nlohmann::ordered_json::array();
      std::fprintf(stderr, "(new conversation)\n");
      continue;
    }
    if (line.rfind("/system", 0) == 0) {
      system = line.size() > 8 ? line.substr(8) : "";
      messages = nlohmann::ordered_json::array();
      std::fprintf(stderr, "(system prompt set; new conversation)\n");
      continue;
    }
    messages.push_back({{"role", "user"}, {"content", line}});
    nlohmann::ordered_json convo = nlohmann::ordered_json::array();
    if (!system.empty()) convo.push_back({{"role", "system"}, {"content", system}});
    for (const auto& m : messages) convo.push_back(m);
    auto text = (*prompt)->render(convo);
    if (!text) {
      std::fprintf(stderr, "cyllm chat: %s\n", text.error().to_string().c_str());
      messages.erase(messages.end() - 1);
      continue;
    }
    GenerateRequest req = base;
    req.prompt = lm->tokenizer->encode(*text, lm->tokenizer->add_bos_default(), /*parse_special=*/true);
    auto res = gen.run(req, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!res) {
      std::fprintf(stderr, "cyllm chat: %s\n", res.error().to_string().c_str());
      messages.erase(messages.end() - 1);
      if (res.error().code == ErrorCode::kOutOfRange) {
        messages = nlohmann::ordered_json::array();
        std::fprintf(stderr, "(the conversation no longer fits the context; starting a new one)\n");
      }
      continue;
    }
    messages.push_back({{"role", "assistant"}, {"content", res->text}});
    const GenerateStats& s = res->stats;
    std::fprintf(stderr, "[%d tokens, %.1f tok/s, first token after %.0f ms, %d prompt tokens reused]\n",
                 s.completion_tokens, s.decode_tok_s(), s.ttft_ms, s.cached_prompt_tokens);
  }
  return 0;
}

}  // namespace cyllm::cli
