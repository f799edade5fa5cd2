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

void Nm4Kernel(const Qs8Nm4RowGroupArgs& a) {
  constexpr int kLanes = kQs8RowGroupRows;
  const size_t per_window = 4 * static_cast<size_t>(a.n);
  const int cols_per_slice = 16 / a.n;
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kLanes;
    const size_t rows = a.num_rows - row0 < kLanes ? a.num_rows - row0 : kLanes;
    const size_t slice0 = g * a.num_windows * per_window;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      int32_t acc[kLanes];
      for (int l = 0; l < kLanes; ++l) acc[l] = a.bias[row0 + l];
      for (size_t s = 0; s < a.num_windows * per_window; ++s) {
        const uint8_t* pos = a.positions + (slice0 + s) * 16;
        const int8_t* wt = a.weights + (slice0 + s) * 64;
        const int8_t* xs = x + s * cols_per_slice;
        for (int e = 0; e < 64; ++e) {
          const int bit = Qs8Nm4PositionBit(e);
          const int p = (pos[bit / 8] >> (bit % 8)) & 3;
          acc[e / 4] += int32_t{xs[4 * ((e % 4) / a.n) + p]} * wt[e];
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

const Qs8Nm4RowGroupUkernel kNm4Kernel = {
    &Nm4Kernel, "qs8_nm4rowgroup_minmax_16x64__scalar", Isa::kScalar, 0};

const Qs8RowGroupUkernel kKernel = {&Kernel, "qs8_rowgroup_minmax_16x64__scalar",
                                    Isa::kScalar, 0};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelScalar() { return kKernel; }
const Qs8Nm4RowGroupUkernel& Qs8Nm4RowGroupUkernelScalar() {
  return kNm4Kernel;
}

}  // namespace tf_sparse
