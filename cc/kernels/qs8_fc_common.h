// What every int8 sparse fully connected operator does around its kernel
// (Qs8BsrFullyConnected, Qs8RowGroupFullyConnected): folding the input
// zero point and the kernel's input offset into the bias, checking that no
// accumulator can overflow int32, and preparing the input rows the kernel
// reads.
#ifndef TF_SPARSE_CC_KERNELS_QS8_FC_COMMON_H_
#define TF_SPARSE_CC_KERNELS_QS8_FC_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "cc/kernels/requantize.h"

namespace tf_sparse {

// |x - zero point| and |x + offset - folded zero point| reach at most 255;
// the folded bias adds at most another 255 per unit of |W|. Checking
// |bias| + 510 * sum |W| against int32 covers every kernel's partial sums,
// whichever ISA runs, so whether a layer is accepted does not depend on
// the CPU.
constexpr int64_t kQs8AccumulatorBound = 510;

// For rows o < out: folded_bias[o] = bias[o] - (input_zero_point +
// input_offset) * row_sums[o] (bias may be null: 0), multiplier[o] and
// shift[o] from `rows`. Returns an empty string, or which row can overflow
// the int32 accumulator.
std::string FoldQs8FcRows(int out, const int32_t* bias,
                          const int32_t* row_sums,
                          const int32_t* row_abs_sums,
                          int64_t input_zero_point, int32_t input_offset,
                          const QuantizedMultiplier* rows,
                          int32_t* folded_bias, int32_t* multiplier,
                          int32_t* shift);

// Copies batch rows of `in` int8 from x (rows `in` apart) to dst (rows
// dst_stride >= in apart), as the kernel reads them: unchanged when
// input_offset is 0, bytes XOR 0x80 (x + 128 as uint8) when it is 128.
// Bytes in..dst_stride of each row are left as they are (kernels read them
// only against zero weights).
void PrepareQs8Input(size_t batch, size_t in, const int8_t* x,
                     int32_t input_offset, size_t dst_stride, int8_t* dst);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_FC_COMMON_H_
