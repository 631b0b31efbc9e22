// `cyllm tokenize`: prints the token ids of a text, using the tokenizer stored in a GGUF file
// (vocab-only files work). With --lines each input line is tokenized on its own, one output line
// per input line, which lets tests send thousands of strings through one process.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/gguf-reader.h"
#include "text/tokenizer.h"

namespace cyllm::cli {

namespace {

constexpr const char* kUsage =
    "usage: cyllm tokenize -m MODEL.gguf [options] TEXT...\n"
    "       cyllm tokenize -m MODEL.gguf [options] --file FILE\n"
    "\n"
    "Prints the token ids of TEXT (several TEXT arguments are joined with spaces) on one line,\n"
    "separated by spaces. The GGUF file may be vocab-only.\n"
    "\n"
    "options:\n"
    "  -m, --model FILE   GGUF file whose tokenizer.ggml.* metadata to use (required)\n"
    "  -f, --file FILE    read the text from FILE ('-' for standard input) instead of TEXT\n"
    "  --bos              add the BOS token first (default: tokenizer.ggml.add_bos_token)\n"
    "  --no-bos           never add the BOS token\n"
    "  --no-special       tokenize special-token text such as <|im_start|> as plain text\n"
    "  --lines            tokenize each input line on its own (the '\\n' itself is not part of it)\n"
    "                     and print one line of ids per input line; a final '\\n' ends the last\n"
    "                     line rather than starting an empty one\n"
    "  --escapes          with --lines: decode '\\n' and '\\\\' in each line, so a line can hold\n"
    "                     newlines (other backslashes are kept as they are)\n"
    "  -h, --help         show this help\n"
    "\n"
    "exit status: 0 ok, 1 unreadable input or model, 2 usage error\n";

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

void append_ids(const std::vector<int32_t>& ids, std::string& out) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  out += '\n';
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  Args args(argc, argv, {"--model", "--file"}, {"--bos", "--no-bos", "--no-special", "--lines", "--escapes", "--help"},
            {{"-m", "--model"}, {"-f", "--file"}, {"-h", "--help"}});
  if (!args.ok()) {
    std::fprintf(stderr, "cyllm tokenize: %s\n\n%s", args.error().c_str(), kUsage);
    return 2;
  }
  if (args.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto usage_error = [](const char* msg) {
    std::fprintf(stderr, "cyllm tokenize: %s\n\n%s", msg, kUsage);
    return 2;
  };
  auto model_path = args.get("--model");
  if (!model_path) return usage_error("-m MODEL.gguf is required");
  auto file = args.get("--file");
  if (file && !args.positionals().empty()) return usage_error("give either TEXT or --file, not both");
  if (!file && args.positionals().empty()) return usage_error("no text given (TEXT or --file FILE)");
  if (args.flag("--bos") && args.flag("--no-bos")) return usage_error("--bos and --no-bos contradict each other");
  if (args.flag("--escapes") && !args.flag("--lines")) return usage_error("--escapes only applies with --lines");

  std::string text;
  if (file) {
    if (!read_input(*file, &text)) {
      std::fprintf(stderr, "cyllm tokenize: cannot read '%s'\n", file->c_str());
      return 1;
    }
  } else {
    for (size_t i = 0; i < args.positionals().size(); ++i) {
      if (i) text += ' ';
      text += args.positionals()[i];
    }
  }

  auto gguf = GgufFile::open(*model_path);
  if (!gguf.ok()) {
    std::fprintf(stderr, "cyllm tokenize: %s\n", gguf.error().to_string().c_str());
    return 1;
  }
  auto tok = Tokenizer::from_gguf(gguf.value());
  if (!tok.ok()) {
    std::fprintf(stderr, "cyllm tokenize: %s: %s\n", model_path->c_str(), tok.error().to_string().c_str());
    return 1;
  }
  const Tokenizer& t = *tok.value();
  bool add_bos = args.flag("--bos") || (!args.flag("--no-bos") && t.add_bos_default());
  bool parse_special = !args.flag("--no-special");

  std::string out;
  if (args.flag("--lines")) {
    bool esc = args.flag("--escapes");
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string_view line(text.data() + pos, nl - pos);
      std::string decoded;
      if (esc) {
        decoded = unescape(line);
        line = decoded;
      }
      append_ids(t.encode(line, add_bos, parse_special), out);
      pos = nl + 1;
    }
  } else {
    append_ids(t.encode(text, add_bos, parse_special), out);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace cyllm::cli
