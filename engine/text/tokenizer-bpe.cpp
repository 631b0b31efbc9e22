// Byte-level BPE (tokenizer.ggml.model = "gpt2"): each pre-tokenized word is mapped byte by byte
// to the GPT-2 bytes_to_unicode alphabet, then adjacent symbols are merged lowest merge rank first
// (leftmost on ties) with a priority queue over a linked list of symbols. Results are cached per
// word. Decoding maps the alphabet back to bytes.
#include <cstring>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "text/tokenizer-impl.h"

namespace cyllm {

namespace {

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 onwards in byte order (so space, 0x20, becomes U+0120 'Ġ' and '\n' becomes 'Ċ').
struct ByteAlphabet {
  uint32_t byte_to_cp[256];
  std::string byte_to_utf8[256];
  int16_t cp_to_byte[0x200];  // every code point used is below U+0144

  ByteAlphabet() {
    std::memset(cp_to_byte, 0xFF, sizeof cp_to_byte);
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_cp[b] = printable ? b : next++;
      append_utf8(byte_to_utf8[b], byte_to_cp[b]);
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// Decodes one UTF-8 character at s[i]; returns its length (1 for a malformed byte).
size_t utf8_next(std::string_view s, size_t i, uint32_t* cp) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *cp = 0xFFFFFFFF;
    return 1;
  }
  uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      *cp = 0xFFFFFFFF;
      return 1;
    }
    v = (v << 6) | (cc & 0x3F);
  }
  *cp = v;
  return n;
}

class BpeModel final : public TokenizerModel {
 public:
  BpeModel(const VocabView& v, PreTokenizer pre, bool ignore_merges)
      : v_(v), pre_(std::move(pre)), ignore_merges_(ignore_merges) {}

  Status init(const std::vector<std::string>& merges) {
    const auto& a = alphabet();
    for (int b = 0; b < 256; ++b) {
      int32_t id = v_.find(a.byte_to_utf8[b]);
      byte_token_[b] = id >= 0 && v_.mergeable(id) ? id : -1;
    }
    merges_.reserve(merges.size() * 2);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& m = merges[rank];
      size_t sp = m.find(' ', 1);
      if (sp == std::string::npos || sp + 1 >= m.size())
        return make_error(ErrorCode::kMalformedFile,
                          "tokenizer.ggml.merges[" + std::to_string(rank) + "] is not \"left right\": '" + m + "'");
      std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
      int32_t l = v_.find(left), r = v_.find(right);
      std::string joined = std::string(left) + std::string(right);
      int32_t j = v_.find(joined);
      // A merge whose parts or result is not in the vocab can never produce a token: skip it.
      if (l < 0 || r < 0 || j < 0) continue;
      merges_.try_emplace(key(l, r), Merge{static_cast<int32_t>(rank), j});
    }
    return Status::Ok();
  }

  void encode(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const override {
    for (std::string_view word : pre_.split(text)) encode_word(word, out);
  }

  std::string piece(int32_t id) const override {
    const std::string& t = v_.text[static_cast<size_t>(id)];
    if (v_.types[static_cast<size_t>(id)] == TokenType::kByte) return byte_token_piece(t);
    const auto& a = alphabet();
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      uint32_t cp = 0;
      size_t n = utf8_next(t, i, &cp);
      if (cp < 0x200 && a.cp_to_byte[cp] >= 0)
        out += static_cast<char>(a.cp_to_byte[cp]);
      else
        out.append(t, i, n);  // not in the byte alphabet: keep the character as it is
      i += n;
    }
    return out;
  }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  struct Sym {
    int32_t id;
    int32_t prev, next;  // -1: none
  };
  struct Cand {
    int32_t rank, pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };

  static uint64_t key(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }

  static std::string byte_token_piece(const std::string& t) {  // "<0xAB>"
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>')
      return std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
    return t;
  }

  const Merge* find_merge(int32_t l, int32_t r) const {
    if (l < 0 || r < 0) return nullptr;
    auto it = merges_.find(key(l, r));
    return it == merges_.end() ? nullptr : &it->second;
  }

  void encode_word(std::string_view word, std::vector<int32_t>& out) const {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(word);
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = bpe(word);
    out.insert(out.end(), ids.begin(), ids.end());
    if (word.size() > kCacheMaxWord) return;  // long runs (whitespace, repeated chars) rarely recur
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMax) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }

  std::vector<int32_t> bpe(std::string_view word) const {
    const auto& a = alphabet();
    std::vector<int32_t> result;
    if (ignore_merges_) {
      std::string mapped;
      for (unsigned char c : word) mapped += a.byte_to_utf8[c];
      int32_t id = v_.find(mapped);
      if (id >= 0 && v_.mergeable(id)) return {id};
    }
    std::vector<Sym> syms(word.size());
    for (size_t i = 0; i < word.size(); ++i)
      syms[i] = Sym{byte_token_[static_cast<unsigned char>(word[i])], static_cast<int32_t>(i) - 1,
                    i + 1 < word.size() ? static_cast<int32_t>(i + 1) : -1};
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> pq;
    auto push = [&](int32_t pos) {
      if (pos < 0) return;
      int32_t nx = syms[pos].next;
      if (nx < 0) return;
      if (const Merge* m = find_merge(syms[pos].id, syms[nx].id)) pq.push(Cand{m->rank, pos, syms[pos].id, syms[nx].id});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(word.size()); ++i) push(i);
    while (!pq.empty()) {
      Cand c = pq.top();
      pq.pop();
      Sym& s = syms[c.pos];
      // Stale when either side has changed since the candidate was queued (merged symbols are
      // unlinked and keep no id).
      if (s.id != c.left || s.next < 0 || syms[s.next].id != c.right) continue;
      const Merge* m = find_merge(c.left, c.right);
      int32_t gone = s.next;
      s.id = m->result;
      s.next = syms[gone].next;
      if (s.next >= 0) syms[s.next].prev = c.pos;
      syms[gone].id = -2;
      push(s.prev);
      push(c.pos);
    }
    for (int32_t i = word.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
      if (syms[i].id >= 0)
        result.push_back(syms[i].id);
      else if (v_.unk >= 0)
        result.push_back(v_.unk);  // a byte the vocab has no symbol for
    }
    return result;
  }

  static constexpr size_t kCacheMax = 1 << 16;  // entries; the cache is dropped when full
  static constexpr size_t kCacheMaxWord = 256;  // bytes

  VocabView v_;
  PreTokenizer pre_;
  bool ignore_merges_;
  int32_t byte_token_[256];
  std::unordered_map<uint64_t, Merge> merges_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, TokenTextHash, std::equal_to<>> cache_;
};

}  // namespace

Result<std::unique_ptr<TokenizerModel>> make_bpe_model(const VocabView& vocab, const std::vector<std::string>& merges,
                                                       PreTokenizerKind pre, bool ignore_merges) {
  auto p = PreTokenizer::create(pre);
  if (!p.ok()) return p.error();
  auto m = std::make_unique<BpeModel>(vocab, std::move(p.value()), ignore_merges);
  if (Status st = m->init(merges); !st.ok()) return st.error();
  return std::unique_ptr<TokenizerModel>(std::move(m));
}

}  // namespace cyllm
