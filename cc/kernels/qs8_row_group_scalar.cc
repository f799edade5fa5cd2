// Scalar int8 row-group kernel: the reference the vector kernels are tested
// against.
#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

void Kernel(const Qs8RowGroupArgs& a) {
  constexpr int kLanes = kQs8RowGroupRows;
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kLanes;
    const size_t rows = a.num_rows - row0 < kLanes ? a.num_rows - row0 : kLanes;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      int32_t acc[kLanes];
      for (int l = 0; l < kLanes; ++l) acc[l] = a.bias[row0 + l];
      for (int32_t w = a.window_ptr[g]; w < a.window_ptr[g + 1]; ++w) {
        const int8_t* xw = x + a.base[w];
        for (int32_t s = a.slice_ptr[w]; s < a.slice_ptr[w + 1]; ++s) {
          const int8_t* slice =
              a.slices + static_cast<size_t>(s) * kQs8RowGroupSliceBytes;
          for (int e = 0; e < kQs8RowGroupCols; ++e) {
            const uint8_t offset = static_cast<uint8_t>(slice[e]);
            acc[e / 4] += int32_t{xw[offset]} * slice[kQs8RowGroupCols + e];
          }
        }
      }
      int8_t* y = a.y + b * a.y_stride + row0;
      for (size_t l = 0; l < rows; ++l) {
        const size_t o = row0 + l;
        y[l] = RequantizeToInt8(acc[l], a.multiplier[o], a.shift[o],
                                a.output_zero_point, a.output_min,
                                a.output_max);
      }
    }
  }
}

const Qs8RowGroupUkernel kKernel = {&Kernel, "qs8_rowgroup_minmax_16x64__scalar",
                                    Isa::kScalar, 0};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
