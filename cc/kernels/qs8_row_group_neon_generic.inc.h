// The NEON int8 row-group kernel, shared by the plain and the dot product
// variants (qs8_row_group_neon.cc, qs8_row_group_neondot.cc; Qs8Dot4 picks
// sdot or vmull_s8 + pairwise adds by the translation unit's flags). A
// group's 16 rows are four int32x4 accumulators; per window the 64 x bytes
// are a 4-register table, and per slice four vqtbl4q_s8 fetch each lane's
// 4 x bytes by the offsets (16 at a time) for four Qs8Dot4.
#include <arm_neon.h>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/qs8_neon_dot4.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

void Kernel(const Qs8RowGroupArgs& a) {
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kQs8RowGroupRows;
    const size_t rows = a.num_rows - row0 < kQs8RowGroupRows
                            ? a.num_rows - row0
                            : kQs8RowGroupRows;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      int32x4_t acc0 = vld1q_s32(a.bias + row0);
      int32x4_t acc1 = vld1q_s32(a.bias + row0 + 4);
      int32x4_t acc2 = vld1q_s32(a.bias + row0 + 8);
      int32x4_t acc3 = vld1q_s32(a.bias + row0 + 12);
      for (int32_t w = a.window_ptr[g]; w < a.window_ptr[g + 1]; ++w) {
        const int8_t* xw = x + a.base[w];
        int8x16x4_t table;
        table.val[0] = vld1q_s8(xw);
        table.val[1] = vld1q_s8(xw + 16);
        table.val[2] = vld1q_s8(xw + 32);
        table.val[3] = vld1q_s8(xw + 48);
        const int8_t* p = a.slices + static_cast<size_t>(a.slice_ptr[w]) *
                                         kQs8RowGroupSliceBytes;
        const int8_t* end = a.slices + static_cast<size_t>(a.slice_ptr[w + 1]) *
                                           kQs8RowGroupSliceBytes;
        for (; p != end; p += kQs8RowGroupSliceBytes) {
          const uint8_t* off = reinterpret_cast<const uint8_t*>(p);
          acc0 = Qs8Dot4(acc0, vld1q_s8(p + 64),
                         vqtbl4q_s8(table, vld1q_u8(off)));
          acc1 = Qs8Dot4(acc1, vld1q_s8(p + 80),
                         vqtbl4q_s8(table, vld1q_u8(off + 16)));
          acc2 = Qs8Dot4(acc2, vld1q_s8(p + 96),
                         vqtbl4q_s8(table, vld1q_u8(off + 32)));
          acc3 = Qs8Dot4(acc3, vld1q_s8(p + 112),
                         vqtbl4q_s8(table, vld1q_u8(off + 48)));
        }
      }
      int32_t sums[kQs8RowGroupRows];
      vst1q_s32(sums, acc0);
      vst1q_s32(sums + 4, acc1);
      vst1q_s32(sums + 8, acc2);
      vst1q_s32(sums + 12, acc3);
      int8_t* y = a.y + b * a.y_stride + row0;
      for (size_t l = 0; l < rows; ++l) {
        const size_t o = row0 + l;
        y[l] = RequantizeToInt8(sums[l], a.multiplier[o], a.shift[o],
                                a.output_zero_point, a.output_min,
                                a.output_max);
      }
    }
  }
}

}  // namespace
}  // namespace tf_sparse
