// An incremental checker for JSON documents (RFC 8259) whose top-level value is an object: a
// byte-level pushdown automaton. Bytes are fed as they are generated; feed() says whether what was
// fed so far can still be the start of a valid document, complete() whether it is one.
//
// What it accepts, exactly: optional leading whitespace (space, tab, LF, CR), one object, optional
// trailing whitespace. Inside: RFC 8259 values — strings with the escapes \" \\ \/ \b \f \n \r \t
// and \uXXXX (a high surrogate must be followed by a \u low surrogate, a lone low surrogate is
// rejected, as nlohmann::json and Python's strict decoders do), raw bytes >= 0x20 that form
// well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), numbers
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, true, false, null, objects and arrays nested at most
// max_depth deep (the top-level object is depth 1). No byte-order mark, no comments. Numbers are
// checked by syntax only: 1e999 is accepted (RFC 8259 leaves ranges to implementations; Python's
// json reads it as inf, nlohmann::json refuses it).
//
// The state is a small trivially copyable value (16 bytes), so checking what a token would do is a
// copy and a few feed_byte() calls. A byte that cannot continue the document puts the state in a
// failed mode, which it never leaves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cyllm {

class JsonState {
 public:
  static constexpr int kMaxDepthLimit = 64;  // the container stack is one bit per level
  static constexpr int kDefaultMaxDepth = 32;

  // max_depth is clamped to [1, kMaxDepthLimit].
  explicit JsonState(int max_depth = kDefaultMaxDepth);

  // Feeds bytes; false (and failed() from then on) when they cannot continue a valid document.
  bool feed(std::string_view bytes);
  bool feed_byte(unsigned char b);

  // The top-level object is closed (only whitespace may follow).
  bool complete() const { return mode_ == kDone; }
  bool failed() const { return mode_ == kFail; }
  int depth() const { return depth_; }
  int max_depth() const { return max_depth_; }

  bool operator==(const JsonState& o) const {
    return stack_ == o.stack_ && hex_ == o.hex_ && mode_ == o.mode_ && depth_ == o.depth_ && max_depth_ == o.max_depth_ &&
           aux_ == o.aux_ && aux2_ == o.aux2_ && flags_ == o.flags_;
  }
  size_t hash() const;

 private:
  enum Mode : uint8_t {
    kStart,      // before the top-level '{'
    kObjFirst,   // after '{': a key or '}'
    kObjKey,     // after ',' in an object: a key
    kColon,      // after a key
    kValue,      // after ':' or after ',' in an array: a value
    kArrFirst,   // after '[': a value or ']'
    kAfter,      // after a value: ',' or the closing bracket
    kStr,        // inside a string
    kStrEsc,     // after a backslash
    kStrHex,     // inside \uXXXX (aux_ digits seen, hex_ their value)
    kStrLowBs,   // after a high surrogate: expects '\'
    kStrLowU,    // ... then 'u'
    kStrUtf8,    // inside a multibyte character (aux_ bytes left, aux2_ range of the next one)
    kNumMinus,   // '-'
    kNumZero,    // a leading '0'
    kNumInt,     // integer digits
    kNumDot,     // '.'
    kNumFrac,    // fraction digits
    kNumE,       // 'e' or 'E'
    kNumESign,   // exponent sign
    kNumExp,     // exponent digits
    kLit,        // inside true/false/null (aux_ which, aux2_ position)
    kDone,
    kFail,
  };
  enum Flag : uint8_t { kKey = 1, kWantLow = 2 };

  bool value_start(unsigned char b);
  bool close(bool object);
  bool top_is_object() const { return (stack_ >> (depth_ - 1)) & 1u; }
  bool fail() {
    mode_ = kFail;
    return false;
  }

  uint64_t stack_ = 0;  // bit d: the container at depth d + 1 is an object (1) or an array (0)
  uint16_t hex_ = 0;
  uint8_t mode_ = kStart;
  uint8_t depth_ = 0;
  uint8_t max_depth_;
  uint8_t aux_ = 0;
  uint8_t aux2_ = 0;
  uint8_t flags_ = 0;
};

struct JsonStateHash {
  size_t operator()(const JsonState& s) const noexcept { return s.hash(); }
};

}  // namespace cyllm
