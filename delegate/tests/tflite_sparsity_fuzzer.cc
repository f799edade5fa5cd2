// libFuzzer target for the TFLite sparse-encoding reader (delegate/
// tflite_sparsity.cc): arbitrary bytes become a tensor with TfLiteSparsity
// (shape, type, traversal order, block map, per-level format, dense size,
// segments, indices and values, every array allocated at exactly its size so
// that AddressSanitizer sees any read past it). Whatever ValidateTfLiteSparsity
// accepts must decode (DecodeTfLiteSparsityToDense, TfLiteSparsityToBsr)
// without a bad access, and what ReadTfLiteSparsity accepts,
// ValidateTfLiteSparsity must accept too.
//
// Built and run by `make fuzz-native` (clang with -fsanitize=fuzzer,address,
// undefined). The kernel side of CreateFcFromTfLiteSparsity is stubbed below:
// the target covers the reader, not the FC operator.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "delegate/tflite_sparsity.h"

namespace tf_sparse {

std::unique_ptr<F32BsrFullyConnected> F32BsrFullyConnected::Create(
    const float*, int, int, const float*, float, float, const Options&,
    std::string* error) {
  *error = "not linked into the fuzzer";
  return nullptr;
}

std::unique_ptr<F32BsrFullyConnected> F32BsrFullyConnected::CreateFromBsr(
    BsrMatrix, const float*, float, float, const Options&, std::string* error) {
  *error = "not linked into the fuzzer";
  return nullptr;
}

namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  uint8_t Byte() { return p_ < end_ ? *p_++ : 0; }
  // Small values mostly, sometimes anything.
  int Int() {
    const uint8_t tag = Byte();
    if (tag < 0xf0) return static_cast<int>(tag % 40) - 4;
    int v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | Byte();
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

struct Owned {
  std::vector<void*> blocks;
  ~Owned() {
    for (void* b : blocks) std::free(b);
  }
  TfLiteIntArray* Array(Reader* r, int n) {
    auto* a = static_cast<TfLiteIntArray*>(std::malloc(IntArrayBytes(n)));
    a->size = n;
    for (int i = 0; i < n; ++i) a->data[i] = r->Int();
    blocks.push_back(a);
    return a;
  }
  // Arrays of length n, or null one time in 16.
  TfLiteIntArray* MaybeArray(Reader* r) {
    const uint8_t len = r->Byte();
    if (len % 16 == 15) return nullptr;
    return Array(r, len % 24);
  }
};

}  // namespace
}  // namespace tf_sparse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tf_sparse;              // NOLINT
  using namespace tf_sparse::tflite_abi;  // NOLINT
  Reader r(data, size);
  Owned owned;
  const int rank = r.Byte() % 5;
  TfLiteIntArray* dims = owned.Array(&r, rank);
  for (int i = 0; i < rank; ++i) dims->data[i] = dims->data[i] % 20;
  static const TfLiteType kTypes[] = {kTfLiteFloat32, kTfLiteInt8,
                                      kTfLiteFloat16, kTfLiteString,
                                      kTfLiteInt32};
  const TfLiteType type = kTypes[r.Byte() % 5];
  TfLiteSparsity sp{};
  sp.traversal_order = owned.MaybeArray(&r);
  sp.block_map = owned.MaybeArray(&r);
  const int levels = r.Byte() % 10;
  sp.dim_metadata_size = levels;
  auto* meta = static_cast<TfLiteDimensionMetadata*>(
      std::calloc(levels > 0 ? levels : 1, sizeof(TfLiteDimensionMetadata)));
  owned.blocks.push_back(meta);
  sp.dim_metadata = r.Byte() % 16 == 15 ? nullptr : meta;
  for (int i = 0; i < levels; ++i) {
    meta[i].format = static_cast<TfLiteDimensionType>(r.Byte() % 3);
    meta[i].dense_size = r.Int();
    meta[i].array_segments = owned.MaybeArray(&r);
    meta[i].array_indices = owned.MaybeArray(&r);
  }
  const size_t bytes = r.Byte() * 4 + r.Byte() % 4;
  void* values = std::malloc(bytes > 0 ? bytes : 1);
  std::memset(values, 0, bytes);
  owned.blocks.push_back(values);

  TfLiteTensor t;
  std::memset(&t, 0, sizeof(t));
  t.type = type;
  t.dims = dims;
  t.data = r.Byte() % 16 == 15 ? nullptr : values;
  t.bytes = bytes;
  t.allocation_type = kTfLiteMmapRo;
  t.sparsity = &sp;

  const std::string valid = ValidateTfLiteSparsity(t);
  TfLiteSparseLayout layout;
  const std::string read = ReadTfLiteSparsity(t, &layout);
  if (read.empty() && !valid.empty()) __builtin_trap();
  if (read.empty()) {
    std::vector<float> dense;
    if (!DecodeTfLiteSparsityToDense(t, &dense).empty()) __builtin_trap();
    if (layout.direct_bsr) {
      BsrMatrix m;
      TfLiteSparsityToBsr(t, BsrIndexWidth::kAuto, &m);
    }
  }
  return 0;
}
