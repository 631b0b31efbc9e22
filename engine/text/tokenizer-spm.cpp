// SentencePiece-style tokenizer (tokenizer.ggml.model = "llama"): spaces become "▁" (with one
// "▁" prepended when add_space_prefix is set), the text starts as one symbol per UTF-8
// character, and adjacent symbols whose concatenation is a vocab token are merged highest score
// first (leftmost on ties). Symbols left that are not tokens fall back to <0xXX> byte tokens
// (or unk when the vocab has none).
#include <cstdio>
#include <queue>

#include "text/tokenizer-impl.h"

namespace cyllm {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 '▁'

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;  // a stray byte is a symbol of its own
}

class SpmModel final : public TokenizerModel {
 public:
  SpmModel(const VocabView& v, bool add_space_prefix) : v_(v), add_space_prefix_(add_space_prefix) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_token_[b] = v_.find(name);
    }
  }

  void encode(std::string_view text, bool after_special, std::vector<int32_t>& out) const override {
    std::string s;
    s.reserve(text.size() + 8);
    if (add_space_prefix_ && after_special) s += kSpace;
    for (char c : text) {
      if (c == ' ')
        s += kSpace;
      else
        s += c;
    }
    if (s.empty()) return;

    // One symbol per character, linked both ways.
    std::vector<Sym> syms;
    for (size_t i = 0; i < s.size();) {
      size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
      int32_t idx = static_cast<int32_t>(syms.size());
      syms.push_back(Sym{static_cast<uint32_t>(i), static_cast<uint32_t>(n), idx - 1, idx + 1});
      i += n;
    }
    syms.back().next = -1;

    std::priority_queue<Bigram> pq;
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      std::string_view joined(s.data() + syms[left].off, syms[left].len + syms[right].len);
      int32_t id = v_.find(joined);
      if (id < 0 || !v_.mergeable(id)) return;
      pq.push(Bigram{left, right, v_.scores[static_cast<size_t>(id)], static_cast<uint32_t>(joined.size())});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

    while (!pq.empty()) {
      Bigram b = pq.top();
      pq.pop();
      Sym& l = syms[b.left];
      Sym& r = syms[b.right];
      // Stale: one side was merged away or has grown since this pair was queued.
      if (l.len == 0 || r.len == 0 || l.next != b.right || l.len + r.len != b.size) continue;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = syms[i].next) {
      std::string_view piece(s.data() + syms[i].off, syms[i].len);
      int32_t id = v_.find(piece);
      if (id >= 0 && v_.mergeable(id)) {
        out.push_back(id);
        continue;
      }
      for (unsigned char c : piece) {
        if (byte_token_[c] >= 0)
          out.push_back(byte_token_[c]);
        else if (v_.unk >= 0)
          out.push_back(v_.unk);
      }
    }
  }

  std::string piece(int32_t id) const override {
    const std::string& t = v_.text[static_cast<size_t>(id)];
    if (v_.types[static_cast<size_t>(id)] == TokenType::kByte && t.size() == 6 && t.compare(0, 3, "<0x") == 0) {
      unsigned v = 0;
      if (std::sscanf(t.c_str() + 3, "%2x", &v) == 1) return std::string(1, static_cast<char>(v));
    }
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += t[i++];
      }
    }
    return out;
  }

 private:
  struct Sym {
    uint32_t off, len;    // bytes of the escaped text; len 0 once merged into its left neighbour
    int32_t prev, next;   // -1: none
  };
  struct Bigram {
    int32_t left, right;
    float score;
    uint32_t size;
    // priority_queue pops the largest: highest score, then the leftmost pair.
    bool operator<(const Bigram& o) const { return score != o.score ? score < o.score : left > o.left; }
  };

  VocabView v_;
  bool add_space_prefix_;
  int32_t byte_token_[256];
};

}  // namespace

Result<std::unique_ptr<TokenizerModel>> make_spm_model(const VocabView& vocab, bool add_space_prefix) {
  return std::unique_ptr<TokenizerModel>(std::make_unique<SpmModel>(vocab, add_space_prefix));
}

}  // namespace cyllm
