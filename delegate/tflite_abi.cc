#include "delegate/tflite_abi.h"

#include <cstdlib>
#include <cstring>

namespace tf_sparse {
namespace tflite_abi {

bool CheckTensorArray(const TfLiteContext* context, int* bad_index) {
  if (context->tensors_size > 0 && context->tensors == nullptr) {
    *bad_index = 0;
    return false;
  }
  for (size_t i = 0; i < context->tensors_size; ++i) {
    const TfLiteTensor& t = context->tensors[i];
    const bool ok =
        static_cast<int>(t.type) >= 0 &&
        static_cast<int>(t.type) <= kMaxPlausibleTfLiteType &&
        static_cast<int>(t.allocation_type) >= 0 &&
        static_cast<int>(t.allocation_type) <= kMaxPlausibleAllocationType &&
        (t.dims == nullptr || (t.dims->size >= 0 && t.dims->size <= 64));
    if (!ok) {
      *bad_index = static_cast<int>(i);
      return false;
    }
  }
  return true;
}

TfLiteIntArray* NewIntArray(const int* dims, int n) {
  void* p = std::malloc(IntArrayBytes(n));
  if (p == nullptr) return nullptr;
  TfLiteIntArray* a = static_cast<TfLiteIntArray*>(p);
  a->size = n;
  if (n > 0) std::memcpy(a->data, dims, sizeof(int) * n);
  return a;
}

}  // namespace tflite_abi
}  // namespace tf_sparse

