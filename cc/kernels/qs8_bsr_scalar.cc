// Scalar int8 BSR kernels: the generic one (any block shape) is the
// reference the vector kernels are tested against.
#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

template <typename Index>
void Generic(const Qs8BsrArgs<Index>& a) {
  constexpr size_t kMaxRows = 1024;  // r * c <= 1024 (CheckBsrShape).
  int32_t acc[kMaxRows];
  const size_t r = a.r;
  const size_t c = a.c;
  for (size_t i = 0; i < a.num_block_rows; ++i) {
    const int32_t begin = a.row_ptr[i];
    const int32_t end = a.row_ptr[i + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      for (size_t rr = 0; rr < r; ++rr) acc[rr] = a.bias[i * r + rr];
      for (int32_t j = begin; j < end; ++j) {
        const int8_t* xb = x + static_cast<size_t>(a.col_idx[j]);
        const int8_t* w = a.values + static_cast<size_t>(j) * r * c;
        for (size_t rr = 0; rr < r; ++rr) {
          int32_t s = 0;
          for (size_t cc = 0; cc < c; ++cc) {
            s += static_cast<int32_t>(xb[cc]) * w[rr * c + cc];
          }
          acc[rr] += s;
        }
      }
      int8_t* y = a.y + b * a.y_stride + i * r;
      for (size_t rr = 0; rr < r; ++rr) {
        const size_t o = i * r + rr;
        y[rr] = RequantizeToInt8(acc[rr], a.multiplier[o], a.shift[o],
                                 a.output_zero_point, a.output_min,
                                 a.output_max);
      }
    }
  }
}

const Qs8BsrUkernel kTable[] = {
    {0, 0, &Generic<uint16_t>, &Generic<int32_t>, "qs8_bsr_minmax_rxc__scalar",
     Isa::kScalar, 0},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsScalar(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
