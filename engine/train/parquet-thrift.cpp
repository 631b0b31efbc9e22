// Thrift compact protocol reader for the Parquet footer (FileMetaData) and page headers: only the
// fields the reader uses are kept, everything else is skipped. Every read is bounds-checked.
#include <cstring>

#include "train/parquet-format.h"

namespace cyllm::train::parquet {

namespace {

enum CType { kStop = 0, kTrue = 1, kFalse = 2, kByte = 3, kI16 = 4, kI32 = 5, kI64 = 6, kDbl = 7, kBin = 8,
             kList = 9, kSet = 10, kMap = 11, kStruct = 12 };

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  void fail() { ok_ = false; pos_ = n_; }

  uint8_t byte() {
    if (pos_ >= n_) {
      fail();
      return 0;
    }
    return p_[pos_++];
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      if (!ok_) return 0;
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail();
    return 0;
  }
  int64_t zigzag() {
    uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  std::string binary() {
    uint64_t len = varint();
    if (!ok_ || len > n_ - pos_) {
      fail();
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  // Next field of a struct; false at STOP (or on error).
  bool field(int16_t* id, int* type, int16_t* last) {
    uint8_t h = byte();
    if (!ok_ || h == kStop) return false;
    *type = h & 0x0F;
    int delta = h >> 4;
    if (delta) *id = static_cast<int16_t>(*last + delta);
    else *id = static_cast<int16_t>(zigzag());
    *last = *id;
    return ok_;
  }
  void list_header(int* elem, uint64_t* size) {
    uint8_t h = byte();
    *elem = h & 0x0F;
    *size = h >> 4;
    if (*size == 15) *size = varint();
    if (*size > n_ - pos_) fail();  // each element takes at least one byte (bool lists too)
  }
  int64_t integer(int type) {
    if (type == kTrue) return 1;
    if (type == kFalse) return 0;
    if (type == kByte) return static_cast<int8_t>(byte());
    if (type == kI16 || type == kI32 || type == kI64) return zigzag();
    skip(type, 0);
    return 0;
  }
  void skip(int type, int depth) {
    if (depth > 64) return fail();
    switch (type) {
      case kTrue: case kFalse: return;
      case kByte: byte(); return;
      case kI16: case kI32: case kI64: varint(); return;
      case kDbl:
        if (n_ - pos_ < 8) return fail();
        pos_ += 8;
        return;
      case kBin: binary(); return;
      case kList: case kSet: {
        int e;
        uint64_t s;
        list_header(&e, &s);
        for (uint64_t i = 0; i < s && ok_; ++i) {
          if (e == kTrue || e == kFalse) byte();
          else skip(e, depth + 1);
        }
        return;
      }
      case kMap: {
        uint64_t s = varint();
        if (s == 0) return;
        uint8_t kv = byte();
        if (s > n_ - pos_) return fail();
        for (uint64_t i = 0; i < s && ok_; ++i) {
          skip(kv >> 4, depth + 1);
          skip(kv & 0x0F, depth + 1);
        }
        return;
      }
      case kStruct: {
        int16_t id, last = 0;
        int t;
        while (ok_ && field(&id, &t, &last)) skip(t, depth + 1);
        return;
      }
      default: return fail();
    }
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Calls f(id, type) for each field of a struct.
template <class F>
void each_field(Reader& r, F&& f) {
  int16_t id, last = 0;
  int t;
  while (r.ok() && r.field(&id, &t, &last)) f(id, t);
}

template <class F>
void each_elem(Reader& r, F&& f) {
  int e;
  uint64_t s;
  r.list_header(&e, &s);
  for (uint64_t i = 0; i < s && r.ok(); ++i) f(e);
}

SchemaElement read_schema_element(Reader& r) {
  SchemaElement s;
  each_field(r, [&](int16_t id, int t) {
    switch (id) {
      case 1: s.type = static_cast<int>(r.integer(t)); break;
      case 2: s.type_length = static_cast<int>(r.integer(t)); break;
      case 3: s.repetition = static_cast<int>(r.integer(t)); break;
      case 4: if (t == kBin) s.name = r.binary(); else r.skip(t, 1); break;
      case 5: s.num_children = static_cast<int>(r.integer(t)); break;
      case 6: s.converted_type = static_cast<int>(r.integer(t)); break;
      case 10:
        if (t != kStruct) { r.skip(t, 1); break; }
        // LogicalType union: field 3 is LIST.
        each_field(r, [&](int16_t lid, int lt) {
          if (lid == 3) s.logical_list = true;
          r.skip(lt, 2);
        });
        break;
      default: r.skip(t, 1);
    }
  });
  return s;
}

ColumnChunk read_column_meta(Reader& r) {
  ColumnChunk c;
  each_field(r, [&](int16_t id, int t) {
    switch (id) {
      case 1: c.type = static_cast<int>(r.integer(t)); break;
      case 3:
        if (t != kList) { r.skip(t, 1); break; }
        each_elem(r, [&](int e) {
          if (e == kBin) c.path.push_back(r.binary());
          else r.skip(e, 2);
        });
        break;
      case 4: c.codec = static_cast<int>(r.integer(t)); break;
      case 5: c.num_values = r.integer(t); break;
      case 7: c.total_compressed_size = r.integer(t); break;
      case 9: c.data_page_offset = r.integer(t); break;
      case 11: c.dictionary_page_offset = r.integer(t); break;
      default: r.skip(t, 1);
    }
  });
  return c;
}

}  // namespace

Result<FileMeta> parse_file_meta(const uint8_t* p, size_t n) {
  Reader r(p, n);
  FileMeta m;
  each_field(r, [&](int16_t id, int t) {
    if (id == 2 && t == kList) {
      each_elem(r, [&](int e) {
        if (e == kStruct) m.schema.push_back(read_schema_element(r));
        else r.skip(e, 1);
      });
    } else if (id == 3) {
      m.num_rows = r.integer(t);
    } else if (id == 4 && t == kList) {
      each_elem(r, [&](int e) {
        if (e != kStruct) return r.skip(e, 1);
        RowGroup g;
        each_field(r, [&](int16_t gid, int gt) {
          if (gid == 1 && gt == kList) {
            each_elem(r, [&](int ce) {
              if (ce != kStruct) return r.skip(ce, 2);
              ColumnChunk c;
              bool have = false;
              each_field(r, [&](int16_t cid, int ct) {
                if (cid == 3 && ct == kStruct) {
                  c = read_column_meta(r);
                  have = true;
                } else {
                  r.skip(ct, 3);
                }
              });
              if (!have) r.fail();
              g.columns.push_back(std::move(c));
            });
          } else if (gid == 3) {
            g.num_rows = r.integer(gt);
          } else {
            r.skip(gt, 2);
          }
        });
        m.row_groups.push_back(std::move(g));
      });
    } else {
      r.skip(t, 0);
    }
  });
  if (!r.ok()) return make_error(ErrorCode::kMalformedFile, "the Parquet footer (file metadata) is malformed");
  if (m.schema.empty()) return make_error(ErrorCode::kMalformedFile, "the Parquet file has no schema");
  return m;
}

Result<PageHeader> parse_page_header(const uint8_t* p, size_t n, size_t* header_len) {
  Reader r(p, n);
  PageHeader h;
  each_field(r, [&](int16_t id, int t) {
    switch (id) {
      case 1: h.type = static_cast<int>(r.integer(t)); break;
      case 2: h.uncompressed_size = static_cast<int32_t>(r.integer(t)); break;
      case 3: h.compressed_size = static_cast<int32_t>(r.integer(t)); break;
      case 5:  // DataPageHeader
      case 7:  // DictionaryPageHeader: the same two leading fields (num_values, encoding)
        if (t != kStruct) { r.skip(t, 1); break; }
        each_field(r, [&](int16_t d, int dt) {
          if (d == 1) h.num_values = static_cast<int32_t>(r.integer(dt));
          else if (d == 2) h.encoding = static_cast<int>(r.integer(dt));
          else r.skip(dt, 2);
        });
        break;
      case 8:  // DataPageHeaderV2
        if (t != kStruct) { r.skip(t, 1); break; }
        each_field(r, [&](int16_t d, int dt) {
          switch (d) {
            case 1: h.num_values = static_cast<int32_t>(r.integer(dt)); break;
            case 2: h.num_nulls = static_cast<int32_t>(r.integer(dt)); break;
            case 3: h.num_rows = static_cast<int32_t>(r.integer(dt)); break;
            case 4: h.encoding = static_cast<int>(r.integer(dt)); break;
            case 5: h.def_len = static_cast<int32_t>(r.integer(dt)); break;
            case 6: h.rep_len = static_cast<int32_t>(r.integer(dt)); break;
            case 7: h.v2_compressed = r.integer(dt) != 0; break;
            default: r.skip(dt, 2);
          }
        });
        break;
      default: r.skip(t, 1);
    }
  });
  if (!r.ok() || h.type < 0 || h.compressed_size < 0 || h.uncompressed_size < 0 || h.num_values < 0 ||
      h.def_len < 0 || h.rep_len < 0)
    return make_error(ErrorCode::kMalformedFile, "a Parquet page header is malformed");
  *header_len = r.pos();
  return h;
}

}  // namespace cyllm::train::parquet
