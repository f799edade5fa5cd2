#include "delegate/tflite_sparsity.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Ranks beyond this are not weights of any op the delegate runs.
constexpr int kMaxRank = 8;
// Bound on positions, so products of sizes never overflow.
constexpr int64_t kMaxPositions = int64_t{1} << 40;

int Size(const TfLiteIntArray* a) { return a == nullptr ? 0 : a->size; }

// The parsed encoding: per level (storage order) its expanded dimension and
// metadata, per expanded dimension its size.
struct Levels {
  int n = 0;                       // Original rank.
  int k = 0;                       // Blocked dimensions.
  std::vector<int> order;          // Level -> expanded dimension.
  std::vector<int> expanded_size;  // Per expanded dimension.
  std::vector<int> block_of;       // Original dim -> its block dim, or -1.
  const TfLiteDimensionMetadata* meta = nullptr;
};

// Bytes of one stored value of `type`, or 0 for a type TFLite never stores
// sparse-encoded (no fixed size).
size_t ElementBytes(int type) {
  switch (type) {
    case kTfLiteFloat32:
    case kTfLiteInt32:
      return 4;
    case kTfLiteUInt8:
    case kTfLiteInt8:
    case kTfLiteBool:
      return 1;
    case kTfLiteInt64:
    case kTfLiteComplex64:
      return 8;
    case kTfLiteInt16:
    case kTfLiteFloat16:
      return 2;
    default:
      return 0;
  }
}

std::string LevelName(int i) { return "dim_metadata[" + std::to_string(i) + "]"; }

// The whole encoding, for values of any fixed-size type: shape, permutation,
// block map, every level's arrays, and the byte size of the values. Fills
// *layout (dims, block_size, num_values) and *lv.
std::string ParseStructure(const TfLiteTensor& t, TfLiteSparseLayout* layout,
                           Levels* lv) {
  const TfLiteSparsity* sp = t.sparsity;
  if (sp == nullptr) return "tensor has no sparsity parameters";
  if (t.dims == nullptr || t.dims->size < 1 || t.dims->size > kMaxRank) {
    return "tensor rank is not in [1, 8]";
  }
  const int n = t.dims->size;
  layout->dims.assign(t.dims->data, t.dims->data + n);
  int64_t dense_count = 1;
  for (int d : layout->dims) {
    if (d < 1) return "tensor has an empty or negative dimension";
    if (dense_count > kMaxPositions / d) return "dense shape is too large";
    dense_count *= d;
  }
  const size_t element = ElementBytes(t.type);
  if (element == 0) {
    return "values of TfLiteType " + std::to_string(t.type) +
           " cannot be sparse-encoded";
  }
  if (sp->traversal_order == nullptr) return "traversal_order is missing";
  const int k = Size(sp->block_map);
  if (k < 0 || k > n) return "block_map is longer than the rank";
  const int levels = n + k;
  if (Size(sp->traversal_order) != levels) {
    return "traversal_order has " + std::to_string(Size(sp->traversal_order)) +
           " entries, expected rank + blocked dims = " +
           std::to_string(levels);
  }
  if (sp->dim_metadata == nullptr || sp->dim_metadata_size != levels) {
    return "dim_metadata has " + std::to_string(sp->dim_metadata_size) +
           " entries, expected " + std::to_string(levels);
  }
  lv->n = n;
  lv->k = k;
  lv->meta = sp->dim_metadata;
  lv->order.assign(sp->traversal_order->data,
                   sp->traversal_order->data + levels);
  std::vector<int> level_of(levels, -1);
  for (int i = 0; i < levels; ++i) {
    const int e = lv->order[i];
    if (e < 0 || e >= levels || level_of[e] >= 0) {
      return "traversal_order is not a permutation";
    }
    level_of[e] = i;
  }
  lv->block_of.assign(n, -1);
  layout->block_size.assign(n, 1);
  for (int m = 0; m < k; ++m) {
    const int d = sp->block_map->data[m];
    if (d < 0 || d >= n || lv->block_of[d] >= 0) {
      return "block_map entries must be distinct dimensions";
    }
    lv->block_of[d] = n + m;
    const TfLiteDimensionMetadata& md = lv->meta[level_of[n + m]];
    if (md.format != kTfLiteDimDense || md.dense_size < 1) {
      return "a block dimension is not DENSE with a positive size";
    }
    layout->block_size[d] = md.dense_size;
  }
  lv->expanded_size.assign(levels, 0);
  for (int d = 0; d < n; ++d) {
    lv->expanded_size[d] = layout->dims[d] / layout->block_size[d];
    if (lv->block_of[d] >= 0) {
      lv->expanded_size[lv->block_of[d]] = layout->block_size[d];
    }
  }

  // Walk the levels: check every array against the number of positions of
  // the level above.
  int64_t count = 1;
  for (int i = 0; i < levels; ++i) {
    const TfLiteDimensionMetadata& md = lv->meta[i];
    const int size = lv->expanded_size[lv->order[i]];
    if (md.format == kTfLiteDimDense) {
      if (md.dense_size != size) {
        return LevelName(i) + " is DENSE of size " +
               std::to_string(md.dense_size) + ", expected " +
               std::to_string(size);
      }
      if (size > 0 && count > kMaxPositions / size) {
        return "encoding is too large";
      }
      count *= size;
    } else if (md.format == kTfLiteDimSparseCSR) {
      const TfLiteIntArray* seg = md.array_segments;
      const TfLiteIntArray* idx = md.array_indices;
      if (seg == nullptr || idx == nullptr) {
        return LevelName(i) + " lacks segments or indices";
      }
      if (Size(seg) < 1 || Size(seg) - 1 != count) {
        return LevelName(i) + " has " + std::to_string(Size(seg)) +
               " segments, expected " + std::to_string(count + 1);
      }
      if (seg->data[0] != 0) {
        return LevelName(i) + " segments do not start at 0";
      }
      for (int64_t p = 0; p < count; ++p) {
        if (seg->data[p + 1] < seg->data[p]) {
          return LevelName(i) + " segments decrease at " + std::to_string(p);
        }
      }
      if (seg->data[count] != Size(idx)) {
        return LevelName(i) + " has " + std::to_string(Size(idx)) +
               " indices, its last segment says " +
               std::to_string(seg->data[count]);
      }
      for (int p = 0; p < Size(idx); ++p) {
        if (idx->data[p] < 0 || idx->data[p] >= size) {
          return LevelName(i) + " index " + std::to_string(idx->data[p]) +
                 " at " + std::to_string(p) + " is out of range [0, " +
                 std::to_string(size) + ")";
        }
      }
      count = seg->data[count];
    } else {
      return LevelName(i) + " has unknown format " + std::to_string(md.format);
    }
    if (count > kMaxPositions) return "encoding is too large";
  }
  layout->num_values = count;
  if (count > 0 && t.data == nullptr) return "tensor has no data";
  if (t.bytes != static_cast<size_t>(count) * element) {
    return "tensor holds " + std::to_string(t.bytes) + " bytes, the encoding " +
           std::to_string(count) + " values of " + std::to_string(element) +
           " bytes";
  }
  return "";
}

std::string Parse(const TfLiteTensor& t, TfLiteSparseLayout* layout,
                  Levels* lv) {
  if (t.sparsity == nullptr) return "tensor has no sparsity parameters";
  if (t.type != kTfLiteFloat32 && t.type != kTfLiteInt8) {
    return "values are not float32 or int8";
  }
  const std::string problem = ParseStructure(t, layout, lv);
  if (!problem.empty()) return problem;
  const int n = lv->n;
  const int k = lv->k;
  const int levels = n + k;
  const int64_t count = layout->num_values;
  const TfLiteSparsity* sp = t.sparsity;
  layout->stored_nonzeros = 0;
  if (t.type == kTfLiteFloat32) {
    const float* v = static_cast<const float*>(t.data);
    for (int64_t p = 0; p < count; ++p) layout->stored_nonzeros += v[p] != 0.0f;
  } else {
    const int8_t* v = static_cast<const int8_t*>(t.data);
    for (int64_t p = 0; p < count; ++p) layout->stored_nonzeros += v[p] != 0;
  }

  // Directly BSR: identity traversal, DENSE block rows, SPARSE_CSR block
  // columns with ascending indices, everything inside a block DENSE.
  layout->direct_bsr = false;
  if (n == 2) {
    bool ok = lv->meta[0].format == kTfLiteDimDense &&
              lv->meta[1].format == kTfLiteDimSparseCSR;
    for (int i = 0; i < levels && ok; ++i) ok = lv->order[i] == i;
    for (int i = 2; i < levels && ok; ++i) {
      ok = lv->meta[i].format == kTfLiteDimDense;
    }
    // Blocks must be r x c row-major: block rows before block columns.
    if (ok && k == 2) ok = sp->block_map->data[0] == 0;
    if (ok) {
      const TfLiteIntArray* seg = lv->meta[1].array_segments;
      const TfLiteIntArray* idx = lv->meta[1].array_indices;
      for (int row = 0; row < lv->expanded_size[0] && ok; ++row) {
        for (int p = seg->data[row] + 1; p < seg->data[row + 1]; ++p) {
          if (idx->data[p] <= idx->data[p - 1]) {
            ok = false;
            break;
          }
        }
      }
      layout->num_blocks = Size(idx);
    }
    layout->direct_bsr = ok;
  }
  return "";
}

}  // namespace

std::string ReadTfLiteSparsity(const TfLiteTensor& t,
                               TfLiteSparseLayout* layout) {
  TfLiteSparseLayout local;
  Levels lv;
  return Parse(t, layout != nullptr ? layout : &local, &lv);
}

std::string ValidateTfLiteSparsity(const TfLiteTensor& t) {
  TfLiteSparseLayout layout;
  Levels lv;
  return ParseStructure(t, &layout, &lv);
}

namespace {

template <typename T>
std::string DecodeToDense(const TfLiteTensor& t, std::vector<T>* dense) {
  TfLiteSparseLayout layout;
  Levels lv;
  const std::string problem = Parse(t, &layout, &lv);
  if (!problem.empty()) return problem;
  if (t.type != (sizeof(T) == 4 ? kTfLiteFloat32 : kTfLiteInt8)) {
    return sizeof(T) == 4 ? "values are not float32" : "values are not int8";
  }
  const int n = lv.n;
  const int levels = n + lv.k;
  int64_t total = 1;
  for (int d : layout.dims) total *= d;
  dense->assign(static_cast<size_t>(total), T(0));
  std::vector<int64_t> stride(n, 1);
  for (int d = n - 2; d >= 0; --d) {
    stride[d] = stride[d + 1] * layout.dims[d + 1];
  }
  const T* values = static_cast<const T*>(t.data);

  // Depth-first over the levels; coord holds each expanded dimension's
  // coordinate, pos the position within the current level.
  std::vector<int> coord(levels, 0);
  struct Frame {
    int64_t begin, end, cur;
  };
  std::vector<Frame> stack(levels);
  std::vector<int64_t> parent(levels + 1, 0);
  auto start = [&](int i) {
    const TfLiteDimensionMetadata& md = lv.meta[i];
    if (md.format == kTfLiteDimDense) {
      stack[i] = {parent[i] * md.dense_size,
                  parent[i] * md.dense_size + md.dense_size, 0};
    } else {
      stack[i] = {md.array_segments->data[parent[i]],
                  md.array_segments->data[parent[i] + 1], 0};
    }
    stack[i].cur = stack[i].begin;
  };
  int i = 0;
  start(0);
  while (i >= 0) {
    Frame& f = stack[i];
    if (f.cur >= f.end) {
      --i;
      if (i >= 0) ++stack[i].cur;
      continue;
    }
    const TfLiteDimensionMetadata& md = lv.meta[i];
    coord[lv.order[i]] = md.format == kTfLiteDimDense
                             ? static_cast<int>(f.cur - f.begin)
                             : md.array_indices->data[f.cur];
    if (i + 1 < levels) {
      parent[i + 1] = f.cur;
      ++i;
      start(i);
      continue;
    }
    int64_t offset = 0;
    for (int d = 0; d < n; ++d) {
      int64_t x = static_cast<int64_t>(coord[d]) * layout.block_size[d];
      if (lv.block_of[d] >= 0) x += coord[lv.block_of[d]];
      offset += x * stride[d];
    }
    (*dense)[static_cast<size_t>(offset)] = values[f.cur];
    ++f.cur;
  }
  return "";
}

}  // namespace

std::string DecodeTfLiteSparsityToDense(const TfLiteTensor& t,
                                        std::vector<float>* dense) {
  return DecodeToDense(t, dense);
}

std::string DecodeTfLiteSparsityToDense(const TfLiteTensor& t,
                                        std::vector<int8_t>* dense) {
  return DecodeToDense(t, dense);
}

std::string TfLiteSparsityToBsr(const TfLiteTensor& t, BsrIndexWidth width,
                                BsrMatrix* m) {
  TfLiteSparseLayout layout;
  Levels lv;
  const std::string problem = Parse(t, &layout, &lv);
  if (!problem.empty()) return problem;
  if (t.type != kTfLiteFloat32) return "values are not float32";
  if (!layout.direct_bsr) return "the encoding is not block sparse rows";
  const int rows = layout.dims[0];
  const int cols = layout.dims[1];
  const int r = layout.block_size[0];
  const int c = layout.block_size[1];
  const std::string shape_problem = CheckBsrShape(rows, cols, r, c);
  if (!shape_problem.empty()) return shape_problem;
  const TfLiteIntArray* seg = lv.meta[1].array_segments;
  const TfLiteIntArray* idx = lv.meta[1].array_indices;
  const int encoded_block_rows = lv.expanded_size[0];

  BsrMatrix out;
  out.rows = rows;
  out.cols = cols;
  out.block_height = r;
  out.block_width = c;
  out.num_block_rows = (rows + r - 1) / r;
  out.padded_rows = out.num_block_rows * r;
  out.padded_cols = (cols + c - 1) / c * c;
  switch (width) {
    case BsrIndexWidth::kAuto:
      out.index_bytes = BsrAutoIndexBytes(cols, c);
      break;
    case BsrIndexWidth::k16:
      if (out.padded_cols > 65536) return "16-bit indices do not fit";
      out.index_bytes = 2;
      break;
    case BsrIndexWidth::k32:
      out.index_bytes = 4;
      break;
  }
  const size_t nb = static_cast<size_t>(layout.num_blocks);
  try {
    out.row_ptr.Resize(out.num_block_rows + 1);
    for (int i = 0; i <= out.num_block_rows; ++i) {
      out.row_ptr[i] = seg->data[i < encoded_block_rows ? i
                                                        : encoded_block_rows];
    }
    if (out.index_bytes == 2) {
      out.col_idx16.Resize(nb);
      for (size_t p = 0; p < nb; ++p) {
        out.col_idx16[p] = static_cast<uint16_t>(idx->data[p] * c);
      }
    } else {
      out.col_idx32.Resize(nb);
      for (size_t p = 0; p < nb; ++p) out.col_idx32[p] = idx->data[p] * c;
    }
    out.values.Resize(nb * static_cast<size_t>(r) * c);
    if (nb != 0) {
      std::memcpy(out.values.data(), t.data, nb * r * c * sizeof(float));
    }
  } catch (const std::bad_alloc&) {
    return "out of memory while converting the sparse encoding";
  }
  *m = std::move(out);
  return "";
}

std::unique_ptr<F32BsrFullyConnected> CreateFcFromTfLiteSparsity(
    const TfLiteTensor& weights, const float* bias, float output_min,
    float output_max, const F32BsrFullyConnected::Options& options,
    std::string* error) {
  TfLiteSparseLayout layout;
  *error = ReadTfLiteSparsity(weights, &layout);
  if (!error->empty()) return nullptr;
  if (layout.dims.size() != 2) {
    *error = "sparse weights are not 2-D";
    return nullptr;
  }
  if (layout.direct_bsr && layout.block_size[0] == options.block_height &&
      layout.block_size[1] == options.block_width) {
    BsrMatrix m;
    *error = TfLiteSparsityToBsr(weights, options.index_width, &m);
    if (!error->empty()) return nullptr;
    return F32BsrFullyConnected::CreateFromBsr(std::move(m), bias, output_min,
                                               output_max, options, error);
  }
  // Another block shape than stored: repack through a dense copy (init
  // only; the copy is dropped once packed).
  std::vector<float> dense;
  try {
    *error = DecodeTfLiteSparsityToDense(weights, &dense);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while decoding the sparse encoding";
  }
  if (!error->empty()) return nullptr;
  return F32BsrFullyConnected::Create(dense.data(), layout.dims[0],
                                      layout.dims[1], bias, output_min,
                                      output_max, options, error);
}

}  // namespace tf_sparse
