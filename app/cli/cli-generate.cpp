// `cyllm generate -m MODEL -p PROMPT [-n N] [sampling...]`: completes a prompt and prints only the
// generated text on stdout (streamed); timings go to stderr.
#include <cstdio>

#include "cli/commands.h"
#include "cli/session.h"
#include "serve/generator.h"

namespace cyllm::cli {

namespace {
std::string help() {
  return std::string(
             "usage: cyllm generate -m MODEL.gguf (-p PROMPT | -f FILE) [options]\n"
             "Completes the prompt and prints only the generated text on stdout.\n"
             "  -p, --prompt TEXT    the prompt (special tokens such as <|im_start|> are recognised)\n"
             "  -f, --file FILE      read the prompt from a file\n"
             "  -n, --n-predict N    tokens to generate at most (default: 128)\n"
             "      --stop S         stop before this string (repeatable)\n"
             "      --ignore-eos     keep generating past end-of-generation tokens\n"
             "      --quiet          no timings on stderr\n") +
         kModelHelp + kSamplingHelp;
}
}  // namespace

int cmd_generate(int argc, char** argv) {
  std::set<std::string> values = {"--prompt", "--file", "--n-predict", "--stop"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  values.insert(kSamplingValueOpts.begin(), kSamplingValueOpts.end());
  auto aliases = kModelAliases;
  aliases.insert({{"-p", "--prompt"}, {"-f", "--file"}, {"-n", "--n-predict"}});
  Args a(argc, argv, values, {"--ignore-eos", "--quiet", "--help"}, aliases);
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm generate: %s\n", a.error().c_str());
    std::fprintf(a.ok() ? stdout : stderr, "%s", help().c_str());
    return a.ok() ? 0 : 2;
  }
  std::string prompt;
  if (auto p = a.get("--prompt")) {
    prompt = *p;
  } else if (auto f = a.get("--file")) {
    if (!read_input(*f, &prompt)) {
      std::fprintf(stderr, "cyllm generate: cannot read prompt file '%s'\n", f->c_str());
      return 1;
    }
  } else {
    std::fprintf(stderr, "cyllm generate: give a prompt with -p TEXT or -f FILE\n");
    return 2;
  }
  const bool quiet = a.flag("--quiet");
  auto lm = load_model("generate", a, quiet);
  if (!lm) return 1;
  GenerateRequest req;
  req.max_tokens = static_cast<int>(a.get_int("--n-predict", 128));
  req.stop = a.get_all("--stop");
  req.ignore_eos = a.flag("--ignore-eos");
  if (!parse_sampling("generate", a, lm->model->config().n_vocab, req.sampling, quiet)) return 2;
  if (req.max_tokens < 0) {
    std::fprintf(stderr, "cyllm generate: --n-predict must be >= 0\n");
    return 2;
  }
  req.prompt = lm->tokenizer->encode(prompt, lm->tokenizer->add_bos_default(), /*parse_special=*/true);
  if (req.prompt.empty()) {
    std::fprintf(stderr, "cyllm generate: the prompt encodes to no tokens\n");
    return 2;
  }
  Generator gen(*lm->model, *lm->tokenizer, lm->ctx_opts, *lm->pool);
  auto res = gen.run(req, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!res) {
    std::fprintf(stderr, "\ncyllm generate: %s\n", res.error().to_string().c_str());
    return 1;
  }
  if (!quiet) {
    const GenerateStats& s = res->stats;
    std::fprintf(stderr, "\n[prompt %d tokens in %.0f ms (%.1f tok/s), generated %d tokens (%.1f tok/s), finish: %s]\n",
                 s.prompt_tokens, s.prefill_ms, s.prefill_tok_s(), s.completion_tokens, s.decode_tok_s(),
                 res->finish_reason.c_str());
  }
  return 0;
}

}  // namespace cyllm::cli
