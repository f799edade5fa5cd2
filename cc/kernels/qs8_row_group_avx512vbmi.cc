// AVX-512 VBMI + VNNI int8 row-group kernel: per window one 64-byte load of
// x (x + 128 as uint8, input_offset 128); per slice one vpermb picks each
// lane's 4 x bytes by the 64 offsets and one vpdpbusd adds the 4 products
// into the 16 row sums (unsigned x times signed weights, exact in int32).
//
// vpdpbusd's latency (about 5 cycles) would bind a single accumulator
// chain; windows alternate between two banks of two accumulators, and
// within a window slices alternate between the bank's two.
#include <immintrin.h>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/kernels/requantize_avx512.h"

namespace tf_sparse {
namespace {

// The slices [s, e) of one window into acc0/acc1.
inline void Window(const int8_t* slices, int32_t s, int32_t e, __m512i xw,
                   __m512i& acc0, __m512i& acc1) {
  const int8_t* p = slices + static_cast<size_t>(s) * kQs8RowGroupSliceBytes;
  for (; s + 2 <= e; s += 2, p += 2 * kQs8RowGroupSliceBytes) {
    const __m512i x0 = _mm512_permutexvar_epi8(_mm512_load_si512(p), xw);
    acc0 = _mm512_dpbusd_epi32(acc0, x0, _mm512_load_si512(p + 64));
    const __m512i x1 = _mm512_permutexvar_epi8(_mm512_load_si512(p + 128), xw);
    acc1 = _mm512_dpbusd_epi32(acc1, x1, _mm512_load_si512(p + 192));
  }
  if (s < e) {
    const __m512i x0 = _mm512_permutexvar_epi8(_mm512_load_si512(p), xw);
    acc0 = _mm512_dpbusd_epi32(acc0, x0, _mm512_load_si512(p + 64));
  }
}

void Kernel(const Qs8RowGroupArgs& a) {
  const __m512i zero_point = _mm512_set1_epi32(a.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(a.output_min);
  const __m512i hi = _mm512_set1_epi32(a.output_max);
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kQs8RowGroupRows;
    const size_t rows = a.num_rows - row0 < kQs8RowGroupRows
                            ? a.num_rows - row0
                            : kQs8RowGroupRows;
    const __mmask16 m = static_cast<__mmask16>((1u << rows) - 1);
    const __m512i bias = _mm512_loadu_si512(a.bias + row0);
    const __m512i multiplier = _mm512_loadu_si512(a.multiplier + row0);
    const __m512i shift = _mm512_loadu_si512(a.shift + row0);
    const int32_t w_end = a.window_ptr[g + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      __m512i acc0 = bias;
      __m512i acc1 = _mm512_setzero_si512();
      __m512i acc2 = _mm512_setzero_si512();
      __m512i acc3 = _mm512_setzero_si512();
      int32_t w = a.window_ptr[g];
      for (; w + 2 <= w_end; w += 2) {
        Window(a.slices, a.slice_ptr[w], a.slice_ptr[w + 1],
               _mm512_loadu_si512(x + a.base[w]), acc0, acc1);
        Window(a.slices, a.slice_ptr[w + 1], a.slice_ptr[w + 2],
               _mm512_loadu_si512(x + a.base[w + 1]), acc2, acc3);
      }
      if (w < w_end) {
        Window(a.slices, a.slice_ptr[w], a.slice_ptr[w + 1],
               _mm512_loadu_si512(x + a.base[w]), acc0, acc1);
      }
      const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(acc0, acc1),
                                           _mm512_add_epi32(acc2, acc3));
      _mm_mask_storeu_epi8(
          a.y + b * a.y_stride + row0, m,
          Requantize16(acc, multiplier, shift, zero_point, lo, hi));
    }
  }
}

// N:4 layout, n nonzeros per group of 4: 4n slices per window, fully
// unrolled, slice k into accumulator k % 4. The offsets of slice k are
// (2-bit position) | (16k / n + 4 (j / n)) for entry j of a lane: one
// vpmultishiftqb brings every entry's 2 bits to the bottom of its byte
// (Qs8Nm4PositionBit), one vpternlogd masks them and adds the constant.
//
// Not instrumented by AddressSanitizer: it keeps arrays of 64-byte vectors
// (pattern, acc) in memory when not unrolled, and the sanitizer's fake stack
// frames (detect_stack_use_after_return) are not 64-byte aligned, so the
// compiler's aligned spills would fault. The tests check its every output
// against the reference; its loads stay inside the packed arrays.
template <int N>
__attribute__((no_sanitize_address)) void Nm4Kernel(
    const Qs8Nm4RowGroupArgs& a) {
  constexpr int kSlices = 4 * N;
  alignas(64) uint8_t control_bytes[64];
  alignas(64) uint8_t pattern_bytes[kSlices][64];
  for (int e = 0; e < 64; ++e) {
    const int q = e / 8;
    control_bytes[e] = static_cast<uint8_t>(16 * (q / 2) + 2 * (e % 8));
    for (int k = 0; k < kSlices; ++k) {
      pattern_bytes[k][e] = static_cast<uint8_t>(16 * k / N + 4 * ((e % 4) / N));
    }
  }
  const __m512i control = _mm512_load_si512(control_bytes);
  __m512i pattern[kSlices];
  for (int k = 0; k < kSlices; ++k) {
    pattern[k] = _mm512_load_si512(pattern_bytes[k]);
  }
  const __m512i three = _mm512_set1_epi8(3);
  const __m512i zero_point = _mm512_set1_epi32(a.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(a.output_min);
  const __m512i hi = _mm512_set1_epi32(a.output_max);
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kQs8RowGroupRows;
    const size_t rows = a.num_rows - row0 < kQs8RowGroupRows
                            ? a.num_rows - row0
                            : kQs8RowGroupRows;
    const __mmask16 m = static_cast<__mmask16>((1u << rows) - 1);
    const __m512i bias = _mm512_loadu_si512(a.bias + row0);
    const __m512i multiplier = _mm512_loadu_si512(a.multiplier + row0);
    const __m512i shift = _mm512_loadu_si512(a.shift + row0);
    const size_t slice0 = g * a.num_windows * kSlices;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      const uint8_t* pos = a.positions + slice0 * 16;
      const int8_t* wt = a.weights + slice0 * 64;
      __m512i acc[4] = {bias, _mm512_setzero_si512(), _mm512_setzero_si512(),
                        _mm512_setzero_si512()};
      for (size_t w = 0; w < a.num_windows; ++w) {
        const __m512i xw = _mm512_loadu_si512(x + 64 * w);
        for (int k = 0; k < kSlices; ++k) {
          const __m512i packed = _mm512_broadcast_i32x4(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(pos)));
          const __m512i offsets = _mm512_ternarylogic_epi32(
              _mm512_multishift_epi64_epi8(control, packed), three,
              pattern[k], 0xEA);  // (a & b) | c
          acc[k % 4] = _mm512_dpbusd_epi32(
              acc[k % 4], _mm512_permutexvar_epi8(offsets, xw),
              _mm512_load_si512(wt));
          pos += 16;
          wt += 64;
        }
      }
      const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]),
                                           _mm512_add_epi32(acc[2], acc[3]));
      _mm_mask_storeu_epi8(
          a.y + b * a.y_stride + row0, m,
          Requantize16(sum, multiplier, shift, zero_point, lo, hi));
    }
  }
}

void Nm4Dispatch(const Qs8Nm4RowGroupArgs& a) {
  if (a.n == 1) {
    Nm4Kernel<1>(a);
  } else {
    Nm4Kernel<2>(a);
  }
}

const Qs8Nm4RowGroupUkernel kNm4Kernel = {
    &Nm4Dispatch, "qs8_nm4rowgroup_minmax_16x64__avx512vbmi", Isa::kAvx512,
    128};

const Qs8RowGroupUkernel kKernel = {
    &Kernel, "qs8_rowgroup_minmax_16x64__avx512vbmi", Isa::kAvx512, 128};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelAvx512Vbmi() { return kKernel; }
const Qs8Nm4RowGroupUkernel& Qs8Nm4RowGroupUkernelAvx512Vbmi() {
  return kNm4Kernel;
}

}  // namespace tf_sparse
