// cyllm: the command-line entry point. Subcommands that need no Qt build without Qt.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"info", cyllm::cli::cmd_info, "show a model's architecture, hyperparameters, tensors and memory needs"},
    {"tokenize", cyllm::cli::cmd_tokenize, "print the token ids of a text"},
    {"generate", cyllm::cli::cmd_generate, "complete a prompt and print the generated text"},
    {"chat", cyllm::cli::cmd_chat, "chat interactively using the model's chat template"},
    {"bench", cyllm::cli::cmd_bench, "measure load time, prefill and decode speed (JSON)"},
    {"template", cyllm::cli::cmd_template, "render a chat template for a messages file (exact text)"},
    {"validate", cyllm::cli::cmd_validate, "check a training dataset: every problem with its row, field and reason"},
    {"render", cyllm::cli::cmd_render, "show one dataset row as trained: template text with trained spans marked"},
    {"train", cyllm::cli::cmd_train, "fine-tune a LoRA adapter from a JSON config (CPU), with checkpoints and resume"},
    {"jobs", cyllm::cli::cmd_jobs, "queue training jobs by priority; run them; pause, resume, cancel, show"},
    {"export", cyllm::cli::cmd_export, "write a training checkpoint's adapter as PEFT (safetensors) or GGUF LoRA"},
    {"merge", cyllm::cli::cmd_merge, "merge a LoRA adapter into a model's weights and write a new GGUF"},
    {"keys", cyllm::cli::cmd_keys, "create, list, rotate and revoke the server's API keys"},
    {"audit", cyllm::cli::cmd_audit, "export or purge the server's audit log"},
#ifdef CYLLM_HAVE_QT
    {"serve", cyllm::cli::cmd_serve, "serve the model over an OpenAI-compatible HTTP API"},
    {"bench-http", cyllm::cli::cmd_bench_http, "measure the HTTP server against the in-process engine (JSON)"},
#endif
};

void usage(FILE* out) {
  std::fprintf(out, "usage: cyllm <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun `cyllm <command> --help` for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view name = argv[1];
  for (const auto& c : kCommands)
    if (name == c.name) return c.run(argc - 2, argv + 2);
  std::fprintf(stderr, "cyllm: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
