#include "serve/json-grammar.h"

#include <algorithm>

namespace cyllm {

namespace {

constexpr std::string_view kLiterals[3] = {"true", "false", "null"};

bool is_ws(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }
bool is_digit(unsigned char b) { return b >= '0' && b <= '9'; }
int hex_value(unsigned char b) {
  if (b >= '0' && b <= '9') return b - '0';
  if (b >= 'a' && b <= 'f') return b - 'a' + 10;
  if (b >= 'A' && b <= 'F') return b - 'A' + 10;
  return -1;
}

// The allowed range of the byte after a UTF-8 lead byte (Unicode Table 3-7), by code.
constexpr unsigned char kContLo[5] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr unsigned char kContHi[5] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

}  // namespace

JsonState::JsonState(int max_depth) : max_depth_(static_cast<uint8_t>(std::clamp(max_depth, 1, kMaxDepthLimit))) {}

size_t JsonState::hash() const {
  uint64_t h = stack_ * 0x9E3779B97F4A7C15ull;
  const uint64_t rest = static_cast<uint64_t>(hex_) | static_cast<uint64_t>(mode_) << 16 | static_cast<uint64_t>(depth_) << 24 |
                        static_cast<uint64_t>(max_depth_) << 32 | static_cast<uint64_t>(aux_) << 40 |
                        static_cast<uint64_t>(aux2_) << 48 | static_cast<uint64_t>(flags_) << 56;
  h ^= rest + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
  h ^= h >> 29;
  return static_cast<size_t>(h * 0xBF58476D1CE4E5B9ull);
}

bool JsonState::feed(std::string_view bytes) {
  for (char c : bytes)
    if (!feed_byte(static_cast<unsigned char>(c))) return false;
  return mode_ != kFail;
}

// A value begins with b (in kValue or kArrFirst).
bool JsonState::value_start(unsigned char b) {
  switch (b) {
    case '{':
    case '[':
      if (depth_ >= max_depth_) return fail();
      if (b == '{') stack_ |= uint64_t{1} << depth_;
      else stack_ &= ~(uint64_t{1} << depth_);
      ++depth_;
      mode_ = b == '{' ? kObjFirst : kArrFirst;
      return true;
    case '"':
      mode_ = kStr;
      flags_ = 0;
      return true;
    case '-':
      mode_ = kNumMinus;
      return true;
    case '0':
      mode_ = kNumZero;
      return true;
    case 't':
    case 'f':
    case 'n':
      mode_ = kLit;
      aux_ = b == 't' ? 0 : b == 'f' ? 1 : 2;
      aux2_ = 1;
      return true;
    default:
      if (b >= '1' && b <= '9') {
        mode_ = kNumInt;
        return true;
      }
      return fail();
  }
}

bool JsonState::close(bool object) {
  if (depth_ == 0 || top_is_object() != object) return fail();
  --depth_;
  stack_ &= ~(uint64_t{1} << depth_);  // keep unused bits zero: equal states compare equal
  mode_ = depth_ == 0 ? kDone : kAfter;
  return true;
}

bool JsonState::feed_byte(unsigned char b) {
  switch (mode_) {
    case kStart:
      if (is_ws(b)) return true;
      if (b != '{') return fail();
      stack_ = 1;
      depth_ = 1;
      mode_ = kObjFirst;
      return true;
    case kObjFirst:
    case kObjKey:
      if (is_ws(b)) return true;
      if (b == '"') {
        mode_ = kStr;
        flags_ = kKey;
        return true;
      }
      if (b == '}' && mode_ == kObjFirst) return close(true);
      return fail();
    case kColon:
      if (is_ws(b)) return true;
      if (b != ':') return fail();
      mode_ = kValue;
      return true;
    case kValue:
      if (is_ws(b)) return true;
      return value_start(b);
    case kArrFirst:
      if (is_ws(b)) return true;
      if (b == ']') return close(false);
      return value_start(b);
    case kAfter:
      if (is_ws(b)) return true;
      if (b == ',') {
        mode_ = top_is_object() ? kObjKey : kValue;
        return true;
      }
      if (b == '}') return close(true);
      if (b == ']') return close(false);
      return fail();
    case kStr:
      if (b == '"') {
        mode_ = (flags_ & kKey) ? kColon : kAfter;
        flags_ = 0;
        return true;
      }
      if (b == '\\') {
        mode_ = kStrEsc;
        return true;
      }
      if (b < 0x20) return fail();
      if (b < 0x80) return true;
      if (b >= 0xC2 && b <= 0xDF) {
        aux_ = 1;
        aux2_ = 0;
      } else if (b >= 0xE0 && b <= 0xEF) {
        aux_ = 2;
        aux2_ = b == 0xE0 ? 1 : b == 0xED ? 2 : 0;
      } else if (b >= 0xF0 && b <= 0xF4) {
        aux_ = 3;
        aux2_ = b == 0xF0 ? 3 : b == 0xF4 ? 4 : 0;
      } else {
        return fail();
      }
      mode_ = kStrUtf8;
      return true;
    case kStrUtf8:
      if (b < kContLo[aux2_] || b > kContHi[aux2_]) return fail();
      aux2_ = 0;
      if (--aux_ == 0) mode_ = kStr;
      return true;
    case kStrEsc:
      switch (b) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          mode_ = kStr;
          return true;
        case 'u':
          mode_ = kStrHex;
          aux_ = 0;
          hex_ = 0;
          return true;
        default:
          return fail();
      }
    case kStrHex: {
      const int v = hex_value(b);
      if (v < 0) return fail();
      hex_ = static_cast<uint16_t>(hex_ * 16 + v);
      ++aux_;
      const bool want_low = flags_ & kWantLow;
      if (aux_ == 1 && want_low && v != 0xD) return fail();
      if (aux_ == 2) {
        const bool low = hex_ >= 0xDC && hex_ <= 0xDF;
        if (want_low != low) return fail();  // a low surrogate exactly after a high one
      }
      if (aux_ < 4) return true;
      aux_ = 0;
      if (want_low) {
        flags_ &= static_cast<uint8_t>(~kWantLow);
        mode_ = kStr;
      } else if (hex_ >= 0xD800 && hex_ <= 0xDBFF) {
        flags_ |= kWantLow;
        mode_ = kStrLowBs;
      } else {
        mode_ = kStr;
      }
      hex_ = 0;
      return true;
    }
    case kStrLowBs:
      if (b != '\\') return fail();
      mode_ = kStrLowU;
      return true;
    case kStrLowU:
      if (b != 'u') return fail();
      mode_ = kStrHex;
      aux_ = 0;
      hex_ = 0;
      return true;
    case kNumMinus:
      if (b == '0') mode_ = kNumZero;
      else if (b >= '1' && b <= '9') mode_ = kNumInt;
      else return fail();
      return true;
    case kNumZero:
    case kNumInt:
      if (is_digit(b)) {
        if (mode_ == kNumZero) return fail();  // no leading zeros
        return true;
      }
      if (b == '.') {
        mode_ = kNumDot;
        return true;
      }
      if (b == 'e' || b == 'E') {
        mode_ = kNumE;
        return true;
      }
      mode_ = kAfter;  // the number ended; b belongs to what follows
      return feed_byte(b);
    case kNumDot:
      if (!is_digit(b)) return fail();
      mode_ = kNumFrac;
      return true;
    case kNumFrac:
      if (is_digit(b)) return true;
      if (b == 'e' || b == 'E') {
        mode_ = kNumE;
        return true;
      }
      mode_ = kAfter;
      return feed_byte(b);
    case kNumE:
      if (b == '+' || b == '-') {
        mode_ = kNumESign;
        return true;
      }
      [[fallthrough]];
    case kNumESign:
      if (!is_digit(b)) return fail();
      mode_ = kNumExp;
      return true;
    case kNumExp:
      if (is_digit(b)) return true;
      mode_ = kAfter;
      return feed_byte(b);
    case kLit: {
      const std::string_view lit = kLiterals[aux_];
      if (b != static_cast<unsigned char>(lit[aux2_])) return fail();
      if (++aux2_ == lit.size()) {
        mode_ = kAfter;
        aux_ = aux2_ = 0;
      }
      return true;
    }
    case kDone:
      if (is_ws(b)) return true;
      return fail();
    default:
      return false;
  }
}

}  // namespace cyllm
