
# Tokenizer (from GGUF metadata): pre-tokenizer regexes, byte-level BPE, SentencePiece, streaming UTF-8.
target_sources(cyllm_engine PRIVATE
  text/tokenizer.cpp
  text/tokenizer-bpe.cpp
  text/tokenizer-spm.cpp
  text/pretokenize.cpp
  text/utf8-stream.cpp
)

# Chat templates: a Jinja interpreter compatible with jinja2 as transformers configures it.
target_sources(cyllm_engine PRIVATE
  text/chat-template.cpp
  text/jinja/unicode.cpp
  text/jinja/value.cpp
  text/jinja/value-ops.cpp
  text/jinja/lexer.cpp
  text/jinja/parser.cpp
  text/jinja/parser-expr.cpp
  text/jinja/evaluator.cpp
  text/jinja/filters.cpp
  text/jinja/methods.cpp
  text/jinja/strings.cpp
)
