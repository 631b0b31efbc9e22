// UTF-8 validation and the StreamDecoder: each pushed token's bytes are appended to a pending
// buffer, and the longest prefix made of whole characters (ill-formed bytes replaced by U+FFFD)
// is returned; only a valid but unfinished sequence at the very end is kept.
#include "text/utf8-stream.h"

#include "text/tokenizer.h"

namespace cyllm {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class Seq { kValid, kIncomplete, kInvalid };

// Classifies the sequence starting at s[i]. kValid / kInvalid set *len to the bytes to take
// (for kInvalid: the maximal ill-formed subpart, at least 1, replaced by one U+FFFD);
// kIncomplete means every byte up to the end of s fits and more are needed.
Seq classify(std::string_view s, size_t i, size_t* len) {
  auto b0 = static_cast<unsigned char>(s[i]);
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0x80) {
    *len = 1;
    return Seq::kValid;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *len = 1;
    return Seq::kInvalid;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return Seq::kIncomplete;
    auto b = static_cast<unsigned char>(s[i + k]);
    bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      *len = k;
      return Seq::kInvalid;
    }
  }
  *len = need;
  return Seq::kValid;
}

// Appends the complete part of buf to out (ill-formed bytes as U+FFFD); returns how many bytes
// of buf were consumed. With final set, an incomplete tail is consumed as U+FFFD too.
size_t drain(std::string_view buf, bool final, std::string& out) {
  size_t i = 0;
  while (i < buf.size()) {
    size_t len = 0;
    Seq k = classify(buf, i, &len);
    if (k == Seq::kIncomplete) {
      if (!final) break;
      out += kReplacement;
      i = buf.size();
      break;
    }
    if (k == Seq::kValid)
      out.append(buf, i, len);
    else
      out += kReplacement;
    i += len;
  }
  return i;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    if (classify(s, i, &len) != Seq::kValid) return false;
    i += len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  drain(s, true, out);
  return out;
}

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special)
    : tok_(tok), skip_special_(skip_special), strip_space_(tok.model_kind() == "llama" && tok.add_space_prefix()) {}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_control(id)) return {};
  std::string piece = tok_.token_piece(id);
  if (strip_space_ && !tok_.is_control(id)) {
    if (!piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space_ = false;
  }
  pending_ += piece;
  std::string out;
  size_t used = drain(pending_, false, out);
  pending_.erase(0, used);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  drain(pending_, true, out);
  pending_.clear();
  return out;
}

void StreamDecoder::reset() {
  pending_.clear();
  strip_space_ = tok_.model_kind() == "llama" && tok_.add_space_prefix();
}

}  // namespace cyllm
