// Parquet reader: footer, schema tree, and record assembly from the leaf columns' repetition and
// definition levels into one JSON object per row (LIST groups become JSON arrays). What is
// supported, and why the engine does not use a Parquet library: parquet-format.h.
#include <cstring>

#include "train/dataset-format.h"
#include "train/parquet-format.h"

namespace cyllm::train {

using json = nlohmann::ordered_json;
using namespace parquet;

namespace {

struct Node {
  const SchemaElement* el = nullptr;
  std::vector<int> children;  // indices into the node list
};

struct Leaf {
  std::vector<int> path;  // node indices from the root's child down to the leaf
  int max_rep = 0, max_def = 0;
};

Error bad(const std::string& what) { return make_error(ErrorCode::kMalformedFile, "Parquet: " + what); }

// Builds the tree from the flattened depth-first schema list.
bool build_tree(const std::vector<SchemaElement>& s, size_t* next, std::vector<Node>* nodes, int depth, int* self) {
  if (*next >= s.size() || depth > 32) return false;
  int idx = static_cast<int>(nodes->size());
  nodes->push_back({&s[*next], {}});
  *self = idx;
  int nc = s[*next].num_children;
  ++*next;
  if (nc < 0 || static_cast<size_t>(nc) > s.size()) return false;
  for (int i = 0; i < nc; ++i) {
    int child;
    if (!build_tree(s, next, nodes, depth + 1, &child)) return false;
    (*nodes)[idx].children.push_back(child);
  }
  return true;
}

void collect_leaves(const std::vector<Node>& nodes, int n, std::vector<int>& path, int rep, int def,
                    std::vector<Leaf>* out) {
  const Node& node = nodes[n];
  if (node.children.empty()) {
    out->push_back({path, rep, def});
    return;
  }
  for (int c : node.children) {
    int r = rep + (nodes[c].el->repetition == kRepeated);
    int d = def + (nodes[c].el->repetition != kRequired);
    path.push_back(c);
    collect_leaves(nodes, c, path, r, d, out);
    path.pop_back();
  }
}

// Adds one (rep, def, value) entry of a leaf to the row skeleton.
void place(json& row, const std::vector<Node>& nodes, const Leaf& leaf, uint16_t r, uint16_t d, json&& value) {
  json* cur = &row;
  int def = 0, rep = 0;
  for (size_t i = 0; i < leaf.path.size(); ++i) {
    const SchemaElement& e = *nodes[leaf.path[i]].el;
    bool is_leaf = i + 1 == leaf.path.size();
    if (e.repetition != kRequired) ++def;
    if (e.repetition == kRepeated) ++rep;
    if (!cur->is_object()) *cur = json::object();
    if (def > d) {
      if (!cur->contains(e.name)) (*cur)[e.name] = e.repetition == kRepeated ? json::array() : json(nullptr);
      return;
    }
    json& slot = (*cur)[e.name];
    if (e.repetition == kRepeated) {
      if (!slot.is_array()) slot = json::array();
      if (rep >= r || slot.empty()) {
        slot.push_back(is_leaf ? std::move(value) : json(nullptr));
      } else if (is_leaf) {
        slot.push_back(std::move(value));  // cannot happen for well-formed levels
      }
      cur = &slot.back();
    } else if (is_leaf) {
      slot = std::move(value);
    } else {
      cur = &slot;
    }
  }
}

void merge(json& dst, json&& src) {
  if (dst.is_null()) {
    dst = std::move(src);
  } else if (dst.is_object() && src.is_object()) {
    for (auto it = src.begin(); it != src.end(); ++it) merge(dst[it.key()], std::move(it.value()));
  } else if (dst.is_array() && src.is_array()) {
    for (size_t i = 0; i < src.size(); ++i) {
      if (i < dst.size()) merge(dst[i], std::move(src[i]));
      else dst.push_back(std::move(src[i]));
    }
  }
}

json unwrap(json&& v, const std::vector<Node>& nodes, int n, int depth);

// A value of node n, which is not repeated here (elements of repeated nodes come through here).
json unwrap_value(json&& v, const std::vector<Node>& nodes, int n, int depth) {
  const Node& node = nodes[n];
  if (node.children.empty() || v.is_null() || depth > 64) return std::move(v);
  const SchemaElement& e = *node.el;
  bool is_list = e.converted_type == 3 || e.logical_list;
  if (is_list && node.children.size() == 1 && nodes[node.children[0]].el->repetition == kRepeated) {
    int rc = node.children[0];
    const Node& rn = nodes[rc];
    json out = json::array();
    if (!v.is_object()) return out;
    auto it = v.find(rn.el->name);
    if (it == v.end() || !it->is_array()) return out;
    for (auto& el : *it) {
      if (!rn.children.empty() && rn.children.size() == 1 && el.is_object()) {
        // Three-level list: repeated group { element }.
        int ec = rn.children[0];
        auto f = el.find(nodes[ec].el->name);
        out.push_back(f == el.end() ? json(nullptr) : unwrap(std::move(*f), nodes, ec, depth + 1));
      } else {
        out.push_back(unwrap_value(std::move(el), nodes, rc, depth + 1));
      }
    }
    return out;
  }
  if (!v.is_object()) return std::move(v);
  for (int c : node.children) {
    auto f = v.find(nodes[c].el->name);
    if (f != v.end()) *f = unwrap(std::move(*f), nodes, c, depth + 1);
  }
  return std::move(v);
}

// A node's slot value: an array of elements when the node is repeated.
json unwrap(json&& v, const std::vector<Node>& nodes, int n, int depth) {
  if (nodes[n].el->repetition == kRepeated && v.is_array()) {
    for (auto& el : v) el = unwrap_value(std::move(el), nodes, n, depth + 1);
    return std::move(v);
  }
  return unwrap_value(std::move(v), nodes, n, depth);
}

}  // namespace

Status read_parquet(std::string_view data, const RowVisitor& visit) {
  const auto* base = reinterpret_cast<const uint8_t*>(data.data());
  size_t size = data.size();
  if (size < 12 || std::memcmp(base, "PAR1", 4) != 0 || std::memcmp(base + size - 4, "PAR1", 4) != 0)
    return bad("not a Parquet file (no PAR1 magic at both ends)");
  uint32_t flen;
  std::memcpy(&flen, base + size - 8, 4);
  if (flen > size - 12) return bad("the footer length is larger than the file");
  auto meta = parse_file_meta(base + size - 8 - flen, flen);
  if (!meta) return meta.error();
  std::vector<Node> nodes;
  size_t next = 0;
  int root;
  if (!build_tree(meta->schema, &next, &nodes, 0, &root)) return bad("the schema tree is malformed");
  std::vector<Leaf> leaves;
  std::vector<int> path;
  collect_leaves(nodes, root, path, 0, 0, &leaves);
  if (nodes[root].children.empty()) return bad("the schema has no columns");
  uint64_t row_no = 0;
  for (const RowGroup& g : meta->row_groups) {
    if (g.columns.size() != leaves.size()) return bad("a row group's column count does not match the schema");
    if (g.num_rows < 0) return bad("a row group has a negative row count");
    std::vector<LeafValues> cols(leaves.size());
    for (size_t c = 0; c < leaves.size(); ++c) {
      const SchemaElement& le = *nodes[leaves[c].path.back()].el;
      if (g.columns[c].type != le.type) return bad("a column's type does not match the schema");
      auto st = decode_column(base, size, g.columns[c], le.type_length, leaves[c].max_rep, leaves[c].max_def, &cols[c]);
      if (!st.ok()) return st;
    }
    std::vector<size_t> cursor(leaves.size(), 0);
    for (int64_t rr = 0; rr < g.num_rows; ++rr) {
      json row = json::object();
      bool bad_utf8 = false;
      for (size_t c = 0; c < leaves.size(); ++c) {
        LeafValues& lv = cols[c];
        size_t& k = cursor[c];
        if (k >= lv.rep.size() || lv.rep[k] != 0) return bad("a column holds fewer rows than its row group");
        json skel = json::object();
        do {
          place(skel, nodes, leaves[c], lv.rep[k], lv.def[k], std::move(lv.values[k]));
          ++k;
        } while (k < lv.rep.size() && lv.rep[k] != 0);
        merge(row, std::move(skel));
        bad_utf8 |= lv.bad_utf8;
      }
      row = unwrap_value(std::move(row), nodes, root, 0);
      RawRow raw;
      raw.row = ++row_no;
      raw.offset = 0;
      raw.value = std::move(row);
      if (bad_utf8) find_replacement_chars(raw.value, "", &raw.bad_utf8_fields);
      if (!visit(raw)) return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace cyllm::train
