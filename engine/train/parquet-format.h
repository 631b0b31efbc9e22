// Internal to the Parquet reader: the file metadata it needs (read from the Thrift compact
// protocol footer), page headers, and the decoders for one column chunk.
//
// Why not a library: Debian 12 packages no Arrow/Parquet C++ development files, and the pyarrow
// wheel's bundled libarrow/libparquet are built for CPython's manylinux toolchain, tie the engine
// to one pyarrow version's ABI and headers, and cannot be built with the sanitizers the fuzz
// targets need. The subset HF datasets / pyarrow write is small, so the engine reads it itself.
//
// Supported: format version 1 and 2 files; flat columns of BYTE_ARRAY (strings), BOOLEAN, INT32,
// INT64, FLOAT, DOUBLE and FIXED_LEN_BYTE_ARRAY (as a string); nested groups and 3-level LIST
// (also legacy 2-level repeated fields), e.g. list<struct<role, content>> for `messages` and
// `conversations`, lists inside structs inside lists; data pages v1 and v2; PLAIN,
// PLAIN_DICTIONARY and RLE_DICTIONARY values with RLE/bit-packed levels; UNCOMPRESSED, SNAPPY,
// GZIP and ZSTD pages. Not supported (a clear error): INT96, DELTA_* and BYTE_STREAM_SPLIT
// encodings, LZO/BROTLI/LZ4 codecs, MAP columns (read as lists of key_value structs), encryption.
// One row group's decoded values are held in memory at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cyllm::train::parquet {

enum Type { kBoolean = 0, kInt32 = 1, kInt64 = 2, kInt96 = 3, kFloat = 4, kDouble = 5, kByteArray = 6, kFixed = 7 };
enum Repetition { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum Codec { kUncompressed = 0, kSnappy = 1, kGzip = 2, kLzo = 3, kBrotli = 4, kLz4 = 5, kZstd = 6, kLz4Raw = 7 };
enum Encoding { kPlain = 0, kPlainDictionary = 2, kRle = 3, kBitPacked = 4, kRleDictionary = 8 };
enum PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

struct SchemaElement {
  int type = -1;  // -1: a group
  int type_length = 0;
  int repetition = kRequired;
  std::string name;
  int num_children = 0;
  int converted_type = -1;  // 3 = LIST, 1 = MAP
  bool logical_list = false;
};

struct ColumnChunk {
  int type = -1;
  std::vector<std::string> path;
  int codec = 0;
  int64_t num_values = 0;
  int64_t data_page_offset = -1;
  int64_t dictionary_page_offset = -1;
  int64_t total_compressed_size = 0;
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t num_rows = 0;
};

struct FileMeta {
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
};

struct PageHeader {
  int type = -1;
  int32_t uncompressed_size = 0, compressed_size = 0;
  int32_t num_values = 0;
  int encoding = 0;
  // v2
  int32_t num_nulls = 0, num_rows = 0, def_len = 0, rep_len = 0;
  bool v2_compressed = true;
};

// Thrift compact protocol decoding of the footer and of page headers.
Result<FileMeta> parse_file_meta(const uint8_t* p, size_t n);
Result<PageHeader> parse_page_header(const uint8_t* p, size_t n, size_t* header_len);

// One leaf column's values in file order: per entry its repetition and definition level, and the
// value when defined to the leaf (def == max_def), else null.
struct LeafValues {
  std::vector<uint16_t> rep, def;
  std::vector<nlohmann::ordered_json> values;  // one per entry
  bool bad_utf8 = false;                       // some string was repaired (U+FFFD)
};

// Decodes a column chunk of `file` (the whole file's bytes).
Status decode_column(const uint8_t* file, size_t file_size, const ColumnChunk& cc, int type_length, int max_rep,
                     int max_def, LeafValues* out);

}  // namespace cyllm::train::parquet
