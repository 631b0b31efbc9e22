// Log-probabilities of sampled tokens (OpenAI `logprobs` / `top_logprobs`).
//
// What is reported (as vLLM does by default): the log-softmax of the model's raw logits for that
// step, before logit_bias, penalties, the JSON constraint, temperature and the top-k/top-p/min-p
// filters. So the numbers describe the model, not the sampling distribution: a token that a filter
// or the JSON constraint forced can have a low logprob, and the top alternatives can include
// tokens the constraint would not have allowed. The normalizer sums float exps in double; values
// are reported as float. Cost: about 0.3 ms per token for the 49152-token vocabulary.
//
// Which event carries which token (LogprobRelease): text reaches a client late — a character
// split across tokens waits for its last byte, and text that may begin a stop string is held.
// A token's entry travels with the event whose text completes that token's bytes, so the entries
// of an event describe text that is in this event or an earlier one, and concatenated over a
// choice's events they are every generated token in order. When a stop string cuts the text, the
// tokens that contributed at least one byte before the cut are reported (the last may also hold
// part of the stop string) and the tokens wholly inside or after the stop string are dropped;
// completion_tokens still counts them. End-of-generation tokens are never reported (they are not
// part of the text either).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace cyllm {

class Tokenizer;

struct TopLogprob {
  int32_t token = -1;
  std::string bytes;    // the token's raw bytes (Tokenizer::token_piece); may be part of a character
  float logprob = 0.0f;
};

struct TokenLogprob {
  int32_t token = -1;   // the sampled token
  std::string bytes;
  float logprob = 0.0f;
  std::vector<TopLogprob> top;  // the top_n most likely tokens, most likely first (ties: lower id)
};

// log(sum(exp(logits))) around the maximum (exp in float, summed in double).
double log_normalizer(std::span<const float> logits);
// The n largest logits as (token, logprob) with logprob = logit - log_z, largest first, ties by
// lower id. n is clamped to logits.size().
std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int n, double log_z);
// The sampled token's entry with top_n alternatives, from the raw logits of its step.
TokenLogprob make_token_logprob(std::span<const float> raw_logits, int32_t sampled, int top_n, const Tokenizer& tok);

// Maps tokens to the moment their text is released (see the header comment). Offsets count bytes
// of the decoder's output (after UTF-8 repair), which is the stop matcher's input.
class LogprobRelease {
 public:
  // A token was pushed through the decoder: its entry, its raw byte count, the decoder's output for
  // this push, and the bytes the decoder still holds afterwards.
  void pushed(TokenLogprob lp, size_t raw_bytes, size_t decoded_bytes, size_t pending_after);
  // The decoder was flushed (end of generation): decoded_bytes more, nothing held any more.
  void flushed(size_t decoded_bytes);
  // The stop matcher released `released_bytes` more; `stopped`: it found a stop string and cut
  // there. Returns the entries to attach to the event carrying that text.
  std::vector<TokenLogprob> release(size_t released_bytes, bool stopped);

 private:
  static constexpr size_t kUnknown = static_cast<size_t>(-1);
  struct Entry {
    TokenLogprob lp;
    size_t raw_end;   // raw byte offset after this token
    size_t out_end;   // decoder-output offset at which all its bytes are out; kUnknown while held
  };
  void resolve();
  std::deque<Entry> q_;
  size_t raw_ = 0, out_ = 0, pending_ = 0, released_ = 0;
  size_t last_end_ = 0;  // out_end of the last entry released
  bool stopped_ = false;
};

}  // namespace cyllm
