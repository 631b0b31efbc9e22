// Parquet column chunk decoding: page walking, decompression (snappy, gzip, zstd), RLE/bit-packed
// levels, PLAIN and dictionary values. Limits and the reason for our own reader: parquet-format.h.
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "train/dataset-format.h"
#include "train/parquet-format.h"

namespace cyllm::train::parquet {

using json = nlohmann::ordered_json;

namespace {

constexpr size_t kMaxPage = size_t{1} << 30;

Error bad(const std::string& what) { return make_error(ErrorCode::kMalformedFile, "Parquet: " + what); }

Status decompress(int codec, const uint8_t* src, size_t n, size_t expect, std::string* out) {
  if (expect > kMaxPage) return bad("a page is larger than 1 GiB");
  // The claimed size is checked against the compressed stream before any allocation, so a forged
  // header cannot make the reader allocate more than the codec's own expansion limit.
  switch (codec) {
    case kUncompressed:
      if (n != expect) return bad("an uncompressed page's sizes disagree");
      out->assign(reinterpret_cast<const char*>(src), n);
      return Status::Ok();
    case kSnappy: {
      size_t len = 0;
      if (snappy_uncompressed_length(reinterpret_cast<const char*>(src), n, &len) != SNAPPY_OK || len != expect ||
          len > n * 64 + 64)  // a 3-byte snappy copy element yields at most 64 bytes
        return bad("a snappy page is corrupt");
      out->resize(expect);
      if (snappy_uncompress(reinterpret_cast<const char*>(src), n, out->data(), &len) != SNAPPY_OK || len != expect)
        return bad("a snappy page is corrupt");
      return Status::Ok();
    }
    case kZstd: {
      unsigned long long fcs = ZSTD_getFrameContentSize(src, n);
      if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != expect) ||
          (fcs == ZSTD_CONTENTSIZE_UNKNOWN && expect > n * 1024 + 1024))
        return bad("a zstd page is corrupt");
      out->resize(expect);
      size_t r = ZSTD_decompress(out->data(), expect, src, n);
      if (ZSTD_isError(r) || r != expect) return bad("a zstd page is corrupt");
      return Status::Ok();
    }
    case kGzip: {
      if (expect > n * 1032 + 64) return bad("a gzip page claims more than deflate can expand to");
      out->resize(expect);
      z_stream zs{};
      if (inflateInit2(&zs, 15 + 32) != Z_OK) return bad("cannot start gzip decoding");
      zs.next_in = const_cast<Bytef*>(src);
      zs.avail_in = static_cast<uInt>(n);
      zs.next_out = reinterpret_cast<Bytef*>(out->data());
      zs.avail_out = static_cast<uInt>(expect);
      int rc = inflate(&zs, Z_FINISH);
      size_t got = expect - zs.avail_out;
      inflateEnd(&zs);
      if (rc != Z_STREAM_END || got != expect) return bad("a gzip page is corrupt");
      return Status::Ok();
    }
    default:
      return make_error(ErrorCode::kUnsupported,
                        "Parquet compression codec " + std::to_string(codec) + " is not supported",
                        "write the file with snappy, zstd, gzip or no compression");
  }
}

int bit_width(int max_level) {
  int w = 0;
  while ((1 << w) <= max_level) ++w;
  return w;
}

// RLE / bit-packed hybrid decoding of `count` values of `width` bits.
bool decode_hybrid(const uint8_t* p, size_t n, int width, size_t count, std::vector<uint32_t>* out) {
  out->clear();
  out->reserve(count);
  size_t pos = 0;
  if (width > 32) return false;
  size_t vbytes = (width + 7) / 8;
  while (out->size() < count) {
    uint64_t h = 0;
    int shift = 0;
    while (true) {
      if (pos >= n || shift > 35) return false;
      uint8_t b = p[pos++];
      h |= uint64_t(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (h & 1) {
      uint64_t groups = h >> 1;
      if (groups == 0 || groups > (n - pos + 1)) return false;
      uint64_t values = groups * 8;
      size_t bytes = static_cast<size_t>(groups) * width;
      if (bytes > n - pos) return false;
      uint64_t bitpos = 0;
      for (uint64_t v = 0; v < values && out->size() < count; ++v) {
        uint64_t x = 0;
        for (int b = 0; b < width; ++b, ++bitpos)
          x |= uint64_t((p[pos + bitpos / 8] >> (bitpos % 8)) & 1) << b;
        out->push_back(static_cast<uint32_t>(x));
      }
      pos += bytes;
    } else {
      uint64_t run = h >> 1;
      if (vbytes > n - pos) return false;
      uint32_t x = 0;
      for (size_t b = 0; b < vbytes; ++b) x |= uint32_t(p[pos + b]) << (8 * b);
      pos += vbytes;
      if (run == 0) return false;
      if (run > count - out->size()) run = count - out->size();
      out->insert(out->end(), run, x);
    }
  }
  return true;
}

// PLAIN values of a physical type; appends `count` values.
bool decode_plain(const uint8_t* p, size_t n, int type, int type_length, size_t count, std::vector<json>* out,
                  bool* bad_utf8) {
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    switch (type) {
      case kByteArray:
      case kFixed: {
        uint32_t len;
        if (type == kByteArray) {
          if (n - pos < 4) return false;
          std::memcpy(&len, p + pos, 4);
          pos += 4;
        } else {
          if (type_length < 0) return false;
          len = static_cast<uint32_t>(type_length);
        }
        if (len > n - pos) return false;
        std::string_view s(reinterpret_cast<const char*>(p + pos), len);
        pos += len;
        if (is_valid_utf8(s)) out->emplace_back(std::string(s));
        else {
          *bad_utf8 = true;
          out->emplace_back(sanitize_utf8(s));
        }
        break;
      }
      case kBoolean: {
        size_t bit = pos * 8 + i;  // booleans are bit-packed from the start of the values
        if (bit / 8 >= n) return false;
        out->emplace_back(((p[bit / 8] >> (bit % 8)) & 1) != 0);
        break;
      }
      case kInt32: {
        if (n - pos < 4) return false;
        int32_t v;
        std::memcpy(&v, p + pos, 4);
        pos += 4;
        out->emplace_back(v);
        break;
      }
      case kInt64: {
        if (n - pos < 8) return false;
        int64_t v;
        std::memcpy(&v, p + pos, 8);
        pos += 8;
        out->emplace_back(v);
        break;
      }
      case kFloat: {
        if (n - pos < 4) return false;
        float v;
        std::memcpy(&v, p + pos, 4);
        pos += 4;
        out->emplace_back(static_cast<double>(v));
        break;
      }
      case kDouble: {
        if (n - pos < 8) return false;
        double v;
        std::memcpy(&v, p + pos, 8);
        pos += 8;
        out->emplace_back(v);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

Status decode_column(const uint8_t* file, size_t file_size, const ColumnChunk& cc, int type_length, int max_rep,
                     int max_def, LeafValues* out) {
  if (cc.type == kInt96) return make_error(ErrorCode::kUnsupported, "Parquet INT96 columns are not supported");
  if (cc.type < 0 || cc.type > kFixed) return bad("a column has an unknown physical type");
  int64_t start = cc.data_page_offset;
  if (cc.dictionary_page_offset > 0 && cc.dictionary_page_offset < start) start = cc.dictionary_page_offset;
  if (start < 4 || cc.total_compressed_size < 0 || static_cast<uint64_t>(start) > file_size ||
      static_cast<uint64_t>(cc.total_compressed_size) > file_size - static_cast<uint64_t>(start))
    return bad("a column chunk lies outside the file");
  const uint8_t* p = file + start;
  size_t n = static_cast<size_t>(cc.total_compressed_size);
  size_t pos = 0;
  std::vector<json> dict;
  std::string page;
  std::vector<uint32_t> levels, idx;
  int rep_w = bit_width(max_rep), def_w = bit_width(max_def);
  if (cc.num_values < 0 || static_cast<uint64_t>(cc.num_values) > file_size * 8 + 64)
    return bad("a column chunk's value count is implausible");
  int64_t got = 0;
  while (got < cc.num_values) {
    if (pos >= n) return bad("a column chunk ends before all its values");
    size_t hl = 0;
    auto h = parse_page_header(p + pos, n - pos, &hl);
    if (!h) return h.error();
    pos += hl;
    if (static_cast<size_t>(h->compressed_size) > n - pos) return bad("a page runs past its column chunk");
    const uint8_t* body = p + pos;
    size_t clen = static_cast<size_t>(h->compressed_size);
    pos += clen;
    if (h->type == kIndexPage) continue;
    if (h->type == kDictionaryPage) {
      auto st = decompress(cc.codec, body, clen, static_cast<size_t>(h->uncompressed_size), &page);
      if (!st.ok()) return st;
      if (h->encoding != kPlain && h->encoding != kPlainDictionary)
        return make_error(ErrorCode::kUnsupported, "Parquet dictionary encoding " + std::to_string(h->encoding) +
                                                       " is not supported");
      dict.clear();
      bool bu = false;
      if (static_cast<size_t>(h->num_values) > page.size() + 1 ||
          !decode_plain(reinterpret_cast<const uint8_t*>(page.data()), page.size(), cc.type, type_length,
                        static_cast<size_t>(h->num_values), &dict, &bu))
        return bad("a dictionary page is corrupt");
      if (bu) out->bad_utf8 = true;
      continue;
    }
    if (h->type != kDataPage && h->type != kDataPageV2) return bad("unknown page type");
    size_t nv = static_cast<size_t>(h->num_values);
    if (nv > static_cast<size_t>(cc.num_values - got)) return bad("pages hold more values than their column");
    const uint8_t* d;
    size_t dn;
    std::vector<uint32_t> rep, def;
    if (h->type == kDataPageV2) {
      size_t lv = static_cast<size_t>(h->rep_len) + static_cast<size_t>(h->def_len);
      if (lv > clen || lv > static_cast<size_t>(h->uncompressed_size)) return bad("a v2 page's level sizes are wrong");
      if (max_rep > 0 && !decode_hybrid(body, static_cast<size_t>(h->rep_len), rep_w, nv, &rep))
        return bad("repetition levels are corrupt");
      if (max_def > 0 && !decode_hybrid(body + h->rep_len, static_cast<size_t>(h->def_len), def_w, nv, &def))
        return bad("definition levels are corrupt");
      size_t rest_u = static_cast<size_t>(h->uncompressed_size) - lv;
      if (h->v2_compressed) {
        auto st = decompress(cc.codec, body + lv, clen - lv, rest_u, &page);
        if (!st.ok()) return st;
      } else {
        if (clen - lv != rest_u) return bad("a v2 page's sizes disagree");
        page.assign(reinterpret_cast<const char*>(body + lv), rest_u);
      }
      d = reinterpret_cast<const uint8_t*>(page.data());
      dn = page.size();
    } else {
      auto st = decompress(cc.codec, body, clen, static_cast<size_t>(h->uncompressed_size), &page);
      if (!st.ok()) return st;
      d = reinterpret_cast<const uint8_t*>(page.data());
      dn = page.size();
      auto levels_v1 = [&](int w, std::vector<uint32_t>* v) {
        if (dn < 4) return false;
        uint32_t len;
        std::memcpy(&len, d, 4);
        if (len > dn - 4) return false;
        if (!decode_hybrid(d + 4, len, w, nv, v)) return false;
        d += 4 + len;
        dn -= 4 + len;
        return true;
      };
      if (max_rep > 0 && !levels_v1(rep_w, &rep)) return bad("repetition levels are corrupt");
      if (max_def > 0 && !levels_v1(def_w, &def)) return bad("definition levels are corrupt");
    }
    size_t present = 0;
    for (size_t i = 0; i < nv; ++i) {
      uint32_t dl = max_def > 0 ? def[i] : 0;
      uint32_t rl = max_rep > 0 ? rep[i] : 0;
      if (static_cast<int>(dl) > max_def || static_cast<int>(rl) > max_rep) return bad("a level is out of range");
      if (static_cast<int>(dl) == max_def) ++present;
    }
    std::vector<json> vals;
    if (h->encoding == kPlain) {
      bool bu = false;
      if (!decode_plain(d, dn, cc.type, type_length, present, &vals, &bu)) return bad("a data page is corrupt");
      if (bu) out->bad_utf8 = true;
    } else if (h->encoding == kRleDictionary || h->encoding == kPlainDictionary) {
      if (present > 0) {
        if (dn < 1) return bad("a dictionary-encoded page is empty");
        if (!decode_hybrid(d + 1, dn - 1, d[0], present, &idx)) return bad("dictionary indices are corrupt");
        vals.reserve(present);
        for (uint32_t k : idx) {
          if (k >= dict.size()) return bad("a dictionary index is out of range");
          vals.push_back(dict[k]);
        }
      }
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "Parquet value encoding " + std::to_string(h->encoding) + " is not supported",
                        "write the file with PLAIN or dictionary encoding (pyarrow's default)");
    }
    size_t vi = 0;
    for (size_t i = 0; i < nv; ++i) {
      uint16_t dl = static_cast<uint16_t>(max_def > 0 ? def[i] : 0);
      out->rep.push_back(static_cast<uint16_t>(max_rep > 0 ? rep[i] : 0));
      out->def.push_back(dl);
      if (dl == max_def) out->values.push_back(std::move(vals[vi++]));
      else out->values.emplace_back(nullptr);
    }
    got += static_cast<int64_t>(nv);
  }
  return Status::Ok();
}

}  // namespace cyllm::train::parquet
