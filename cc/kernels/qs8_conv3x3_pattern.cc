#include "cc/kernels/qs8_conv3x3_pattern.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "cc/kernels/dispatch.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif
#include "cc/kernels/row_split.h"
#include "cc/util/cpu_features.h"

namespace tf_sparse {
namespace {

// As the int8 fully connected operator: |x - zero point| and the folded
// offset reach at most 255 each, so |bias| + 510 * sum |w| bounds every
// partial sum of every kernel.
constexpr int64_t kAccumulatorBound = 510;

int PopCount9(unsigned m) {
  int n = 0;
  for (; m != 0; m &= m - 1) ++n;
  return n;
}

// The pattern of every (o, c) kernel (-1: removed) and the library of
// 4-tap masks. Returns an empty string, or what is wrong.
std::string AssignPatterns(const int8_t* w, int out_c, int in_c,
                           std::vector<int>* pattern_of,
                           std::vector<unsigned>* library,
                           int64_t* max_taps) {
  const size_t n = static_cast<size_t>(out_c) * in_c;
  std::vector<unsigned> mask(n, 0);
  *max_taps = 0;
  for (int o = 0; o < out_c; ++o) {
    for (int t = 0; t < 9; ++t) {
      const int8_t* row = w + (static_cast<size_t>(o) * 9 + t) * in_c;
      for (int c = 0; c < in_c; ++c) {
        if (row[c] != 0) mask[static_cast<size_t>(o) * in_c + c] |= 1u << t;
      }
    }
  }
  library->clear();
  for (size_t i = 0; i < n; ++i) {
    const int taps = PopCount9(mask[i]);
    *max_taps = std::max<int64_t>(*max_taps, taps);
    if (taps > 4) {
      return "weights: the 3x3 kernel of output channel " +
             std::to_string(i / in_c) + ", input channel " +
             std::to_string(i % in_c) + " has " + std::to_string(taps) +
             " nonzero taps; a pattern kernel keeps at most 4";
    }
    if (taps == 4 &&
        std::find(library->begin(), library->end(), mask[i]) ==
            library->end()) {
      library->push_back(mask[i]);
    }
  }
  pattern_of->assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const unsigned m = mask[i];
    if (m == 0) continue;
    int p = -1;
    for (size_t q = 0; q < library->size(); ++q) {
      if (((*library)[q] & m) == m) {
        p = static_cast<int>(q);
        break;
      }
    }
    if (p < 0) {
      unsigned full = m;
      for (int t = 0; t < 9 && PopCount9(full) < 4; ++t) full |= 1u << t;
      library->push_back(full);
      p = static_cast<int>(library->size()) - 1;
    }
    (*pattern_of)[i] = p;
  }
  return "";
}

}  // namespace

const Qs8PatConvUkernel& SelectQs8PatConvUkernel(Isa isa,
                                                 bool use_dot_product) {
  return SelectQs8Variant(isa, use_dot_product, GetCpuFeatures().avx512vnni,
                          TF_SPARSE_X86_ONLY(Qs8PatConvUkernelAvx512Vnni),
                          TF_SPARSE_X86_ONLY(Qs8PatConvUkernelAvx2),
                          TF_SPARSE_ARM_ONLY(Qs8PatConvUkernelNeon),
                          TF_SPARSE_ARM_ONLY(Qs8PatConvUkernelNeonDot),
                          &Qs8PatConvUkernelScalar)();
}

Qs8PatternConv3x3Stats Qs8PatternConv3x3::Analyze(const int8_t* weights,
                                                  int out_c, int in_c) {
  Qs8PatternConv3x3Stats s;
  if (weights == nullptr || out_c < 1 || in_c < 1) return s;
  std::vector<int> pattern_of;
  std::vector<unsigned> library;
  // Weights that are not pattern-shaped: only max_taps says so.
  if (!AssignPatterns(weights, out_c, in_c, &pattern_of, &library,
                      &s.max_taps)
           .empty()) {
    return s;
  }
  s.num_patterns = static_cast<int>(library.size());
  const int blocks = (out_c + kQs8PatBlockFilters - 1) / kQs8PatBlockFilters;
  std::vector<char> used(library.size());
  for (int c = 0; c < in_c; ++c) {
    std::fill(used.begin(), used.end(), 0);
    for (int b = 0; b < blocks; ++b) {
      std::vector<char> in_block(library.size(), 0);
      for (int o = b * kQs8PatBlockFilters;
           o < std::min(out_c, (b + 1) * kQs8PatBlockFilters); ++o) {
        const int p = pattern_of[static_cast<size_t>(o) * in_c + c];
        if (p < 0) continue;
        ++s.kept_kernels;
        if (!in_block[p]) ++s.entries;
        in_block[p] = 1;
        if (!used[p]) ++s.slots;
        used[p] = 1;
      }
    }
  }
  s.patterns_per_channel = static_cast<double>(s.slots) / in_c;
  return s;
}

std::unique_ptr<Qs8PatternConv3x3> Qs8PatternConv3x3::Create(
    const int8_t* weights, int out_c, int in_c, const int32_t* bias,
    const Qs8FcQuantization& q, const Params& params, std::string* error) {
  if (weights == nullptr) {
    *error = "weights must not be null";
    return nullptr;
  }
  if (out_c < 1 || in_c < 1) {
    *error = "out_c and in_c must be >= 1 (got " + std::to_string(out_c) +
             " and " + std::to_string(in_c) + ")";
    return nullptr;
  }
  if ((params.stride_h != 1 && params.stride_h != 2) ||
      (params.stride_w != 1 && params.stride_w != 2)) {
    *error = "stride_h and stride_w must be 1 or 2 (got " +
             std::to_string(params.stride_h) + " and " +
             std::to_string(params.stride_w) + ")";
    return nullptr;
  }
  if (params.padding != ConvPadding::kSame &&
      params.padding != ConvPadding::kValid) {
    *error = "padding must be SAME or VALID";
    return nullptr;
  }
  std::vector<QuantizedMultiplier> rows;
  std::string problem = ComputeFcMultipliers(q, out_c, &rows);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  problem = CheckClampAndIsa(0.0f, 0.0f, params.isa, &isa);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  std::unique_ptr<Qs8PatternConv3x3> op(new Qs8PatternConv3x3());
  try {
    std::vector<int> pattern_of;
    std::vector<unsigned> library;
    Qs8PatternConv3x3Stats& st = op->stats_;
    problem = AssignPatterns(weights, out_c, in_c, &pattern_of, &library,
                             &st.max_taps);
    if (!problem.empty()) {
      *error = problem;
      return nullptr;
    }
    st.num_patterns = static_cast<int>(library.size());
    op->kernel_ = SelectQs8PatConvUkernel(isa, params.use_dot_product);
    // Slots: per channel, the patterns used there.
    const size_t np = library.size();
    std::vector<int> slot_of(static_cast<size_t>(in_c) * np, -1);
    for (int c = 0; c < in_c; ++c) {
      std::vector<char> used(np, 0);
      for (int o = 0; o < out_c; ++o) {
        const int p = pattern_of[static_cast<size_t>(o) * in_c + c];
        if (p >= 0) used[p] = 1;
      }
      for (size_t p = 0; p < np; ++p) {
        if (!used[p]) continue;
        slot_of[static_cast<size_t>(c) * np + p] =
            static_cast<int>(op->slot_channel_.size());
        op->slot_channel_.push_back(c);
        int k = 0;
        for (int t = 0; t < 9; ++t) {
          if (library[p] & (1u << t)) {
            op->slot_taps_.push_back(static_cast<uint8_t>(t));
            ++k;
          }
        }
      }
    }
    st.slots = static_cast<int64_t>(op->slot_channel_.size());
    st.patterns_per_channel = static_cast<double>(st.slots) / in_c;
    // Entries per block, in slot order.
    const int blocks = (out_c + kQs8PatBlockFilters - 1) / kQs8PatBlockFilters;
    std::vector<int8_t> packed;
    op->entry_ptr_.push_back(0);
    for (int b = 0; b < blocks; ++b) {
      const int o0 = b * kQs8PatBlockFilters;
      const int o1 = std::min(out_c, o0 + kQs8PatBlockFilters);
      for (int c = 0; c < in_c; ++c) {
        for (size_t p = 0; p < np; ++p) {
          const int s = slot_of[static_cast<size_t>(c) * np + p];
          if (s < 0) continue;
          bool any = false;
          int8_t w[64] = {};
          for (int o = o0; o < o1; ++o) {
            if (pattern_of[static_cast<size_t>(o) * in_c + c] !=
                static_cast<int>(p)) {
              continue;
            }
            any = true;
            ++st.kept_kernels;
            for (int k = 0; k < 4; ++k) {
              const int t = op->slot_taps_[4 * static_cast<size_t>(s) + k];
              w[4 * (o - o0) + k] =
                  weights[(static_cast<size_t>(o) * 9 + t) * in_c + c];
            }
          }
          if (!any) continue;
          op->entry_slot_.push_back(s);
          packed.insert(packed.end(), w, w + 64);
        }
      }
      op->entry_ptr_.push_back(static_cast<int32_t>(op->entry_slot_.size()));
    }
    st.entries = static_cast<int64_t>(op->entry_slot_.size());
    op->weights_.Resize(std::max<size_t>(packed.size(), 64));
    if (!packed.empty()) {
      std::memcpy(op->weights_.data(), packed.data(), packed.size());
    }
    if (op->kernel_.int16_weights) {
      op->weights16_.Resize(std::max<size_t>(packed.size(), 64));
      for (size_t i = 0; i < packed.size(); ++i) {
        op->weights16_[i] = packed[i];
      }
    }
    const size_t padded = static_cast<size_t>(blocks) * kQs8PatBlockFilters;
    op->bias_.Resize(padded);
    op->multiplier_.Resize(padded);
    op->shift_.Resize(padded);
    const int64_t zero =
        static_cast<int64_t>(q.input_zero_point) + op->kernel_.input_offset;
    for (size_t o = 0; o < padded; ++o) {
      if (o >= static_cast<size_t>(out_c)) {
        op->bias_[o] = 0;
        op->multiplier_[o] = 0;
        op->shift_[o] = 0;
        continue;
      }
      int64_t sum = 0, abs_sum = 0;
      const int8_t* wo = weights + o * 9 * static_cast<size_t>(in_c);
      for (size_t i = 0; i < 9 * static_cast<size_t>(in_c); ++i) {
        sum += wo[i];
        abs_sum += std::abs(static_cast<int>(wo[i]));
      }
      const int64_t b = bias != nullptr ? bias[o] : 0;
      if (std::llabs(b) + kAccumulatorBound * abs_sum >
          std::numeric_limits<int32_t>::max()) {
        *error = "bias and weights of output channel " + std::to_string(o) +
                 " can overflow the int32 accumulator (|bias| + 510 * "
                 "sum |w| must stay below 2^31)";
        return nullptr;
      }
      op->bias_[o] = static_cast<int32_t>(b - zero * sum);
      op->multiplier_[o] = rows[o].multiplier;
      op->shift_[o] = rows[o].shift;
    }
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  }
  op->out_c_ = out_c;
  op->in_c_ = in_c;
  op->stride_h_ = params.stride_h;
  op->stride_w_ = params.stride_w;
  op->padding_ = params.padding;
  op->output_zero_point_ = q.output_zero_point;
  op->output_min_ = q.output_min;
  op->output_max_ = q.output_max;
  op->pad_byte_ = static_cast<int8_t>(
      static_cast<uint8_t>(q.input_zero_point) ^
      (op->kernel_.input_offset == 128 ? 0x80u : 0u));
  return op;
}

int64_t Qs8PatternConv3x3::PackedBytes() const {
  return static_cast<int64_t>(weights_.size()) +
         static_cast<int64_t>(weights16_.size()) * 2 +
         static_cast<int64_t>(entry_slot_.size() + entry_ptr_.size() +
                              slot_channel_.size() + 3 * bias_.size()) *
             4 +
         static_cast<int64_t>(slot_taps_.size());
}

bool Qs8PatternConv3x3::Reshape(int batch, int in_h, int in_w, int* out_h,
                                int* out_w, std::string* error) {
  if (batch < 1) {
    *error = "batch must be >= 1 (got " + std::to_string(batch) + ")";
    return false;
  }
  int oh, ow, pt, pl;
  if (!ConvOutputSize(padding_, in_h, 3, stride_h_, &oh, &pt) ||
      !ConvOutputSize(padding_, in_w, 3, stride_w_, &ow, &pl)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) +
             " has no output for a 3x3 convolution with this padding and "
             "stride (VALID needs in_h, in_w >= 3)";
    return false;
  }
  batch_ = batch;
  in_h_ = in_h;
  in_w_ = in_w;
  out_h_ = oh;
  out_w_ = ow;
  pad_top_ = pt;
  pad_left_ = pl;
  const size_t tile = static_cast<size_t>(kernel_.tile_pixels);
  tiles_per_row_ = (static_cast<size_t>(ow) + tile - 1) / tile;
  plane_rows_ = static_cast<size_t>(oh - 1) * stride_h_ + 3;
  plane_cols_ = tiles_per_row_ * tile + 2;
  const size_t phase = plane_rows_ * plane_cols_;
  channel_stride_ = phase * stride_w_;
  for (int kh = 0; kh < 3; ++kh) {
    for (int kw = 0; kw < 3; ++kw) {
      tap_offset_[3 * kh + kw] = static_cast<int32_t>(
          (kw % stride_w_) * phase + kh * plane_cols_ + kw / stride_w_);
    }
  }
  try {
    planes_.Resize(channel_stride_ * in_c_ + 128);
    std::memset(planes_.data(), pad_byte_, planes_.size());
  } catch (const std::bad_alloc&) {
    *error = "out of memory for the input planes";
    return false;
  }
  *out_h = oh;
  *out_w = ow;
  return true;
}

namespace {

// 16 pixels x 16 channels of NHWC (src rows `stride` bytes apart, top bit
// flipped by `flip`) to 16 channel rows of 16 pixels: four perfect
// shuffles (row i with row i + 8) transpose a 16 x 16 byte matrix.
#if defined(__SSE2__)
inline void Transpose16x16(const int8_t* src, size_t stride, uint8_t flip,
                           int8_t out[16][16]) {
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  __m128i r[16], o[16];
  for (int i = 0; i < 16; ++i) {
    r[i] = _mm_xor_si128(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * stride)),
        f);
  }
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < 8; ++i) {
      o[2 * i] = _mm_unpacklo_epi8(r[i], r[i + 8]);
      o[2 * i + 1] = _mm_unpackhi_epi8(r[i], r[i + 8]);
    }
    for (int i = 0; i < 16; ++i) r[i] = o[i];
  }
  for (int i = 0; i < 16; ++i) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[i]), r[i]);
  }
}
#elif defined(__ARM_NEON)
inline void Transpose16x16(const int8_t* src, size_t stride, uint8_t flip,
                           int8_t out[16][16]) {
  const uint8x16_t f = vdupq_n_u8(flip);
  uint8x16_t r[16], o[16];
  for (int i = 0; i < 16; ++i) {
    r[i] = veorq_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(src + i * stride)),
                    f);
  }
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < 8; ++i) {
      o[2 * i] = vzip1q_u8(r[i], r[i + 8]);
      o[2 * i + 1] = vzip2q_u8(r[i], r[i + 8]);
    }
    for (int i = 0; i < 16; ++i) r[i] = o[i];
  }
  for (int i = 0; i < 16; ++i) {
    vst1q_u8(reinterpret_cast<uint8_t*>(out[i]), r[i]);
  }
}
#else
inline void Transpose16x16(const int8_t* src, size_t stride, uint8_t flip,
                           int8_t out[16][16]) {
  for (int i = 0; i < 16; ++i) {
    for (int k = 0; k < 16; ++k) {
      out[k][i] = static_cast<int8_t>(
          static_cast<uint8_t>(src[i * stride + k]) ^ flip);
    }
  }
}
#endif

}  // namespace

void Qs8PatternConv3x3::FillPlanes(const int8_t* x, int ih_begin,
                                   int ih_end) {
  const uint8_t flip = kernel_.input_offset == 128 ? 0x80u : 0u;
  const size_t phase = plane_rows_ * plane_cols_;
  const size_t sw = static_cast<size_t>(stride_w_);
  const size_t in_c = static_cast<size_t>(in_c_);
  // Input columns [0, full) lie inside the planes in blocks of 16.
  size_t inside = static_cast<size_t>(in_w_);
  while (inside > 0 &&
         (inside - 1 + static_cast<size_t>(pad_left_)) / sw >= plane_cols_) {
    --inside;
  }
  // Blocks of 16 columns x 16 channels; the last block of each overlaps
  // the one before (rewriting equal bytes) so that only inputs with fewer
  // than 16 columns or channels take the scalar loop.
  const bool blocks = in_c >= 16 && inside >= 16;
  alignas(16) int8_t block[16][16];
  for (int ih = ih_begin; ih < ih_end; ++ih) {
    const size_t pr = static_cast<size_t>(ih + pad_top_);
    if (pr >= plane_rows_) break;
    const int8_t* src_row = x + static_cast<size_t>(ih) * in_w_ * in_c;
    int8_t* dst_row = planes_.data() + pr * plane_cols_;
    if (!blocks) {
      for (size_t iw = 0; iw < inside; ++iw) {
        const size_t pc = iw + static_cast<size_t>(pad_left_);
        int8_t* dst = dst_row + (pc % sw) * phase + pc / sw;
        const int8_t* src = src_row + iw * in_c;
        for (size_t c = 0; c < in_c; ++c) {
          dst[c * channel_stride_] =
              static_cast<int8_t>(static_cast<uint8_t>(src[c]) ^ flip);
        }
      }
      continue;
    }
    for (size_t iw0 = 0; iw0 < inside; iw0 += 16) {
      const size_t iw = iw0 + 16 <= inside ? iw0 : inside - 16;
      const size_t pc = iw + static_cast<size_t>(pad_left_);
      for (size_t c0 = 0; c0 < in_c; c0 += 16) {
        const size_t c = c0 + 16 <= in_c ? c0 : in_c - 16;
        Transpose16x16(src_row + iw * in_c + c, in_c, flip, block);
        for (size_t k = 0; k < 16; ++k) {
          int8_t* dst = dst_row + (c + k) * channel_stride_;
          if (sw == 1) {
            std::memcpy(dst + pc, block[k], 16);
          } else {
            for (size_t i = 0; i < 16; ++i) {
              dst[((pc + i) & 1) * phase + (pc + i) / 2] = block[k][i];
            }
          }
        }
      }
    }
  }
}

void Qs8PatternConv3x3::RunTiles(int8_t* y, size_t begin, size_t end,
                                 int8_t* xbuf) {
  Qs8PatConvArgs a;
  a.channel_stride = channel_stride_;
  a.tap_offset = tap_offset_;
  a.num_slots = slot_channel_.size();
  a.slot_channel = slot_channel_.data();
  a.slot_taps = slot_taps_.data();
  a.xbuf = xbuf;
  a.num_blocks = entry_ptr_.size() - 1;
  a.entry_ptr = entry_ptr_.data();
  a.entry_slot = entry_slot_.data();
  a.weights = weights_.data();
  a.weights16 = kernel_.int16_weights ? weights16_.data() : nullptr;
  a.bias = bias_.data();
  a.multiplier = multiplier_.data();
  a.shift = shift_.data();
  a.out_c = static_cast<size_t>(out_c_);
  a.y_stride = static_cast<size_t>(out_c_);
  a.output_zero_point = output_zero_point_;
  a.output_min = output_min_;
  a.output_max = output_max_;
  for (size_t u = begin; u < end; ++u) {
    const size_t oy = u / tiles_per_row_;
    const size_t tile = static_cast<size_t>(kernel_.tile_pixels);
    const size_t ox = (u % tiles_per_row_) * tile;
    const size_t left = static_cast<size_t>(out_w_) - ox;
    a.num_pixels = left < tile ? left : tile;
    a.x = planes_.data() + oy * stride_h_ * plane_cols_ + ox;
    a.y = y + (oy * out_w_ + ox) * out_c_;
    kernel_.fn(a);
  }
}

void Qs8PatternConv3x3::Run(const int8_t* x, int8_t* y, ThreadPool* pool) {
  const size_t units = static_cast<size_t>(out_h_) * tiles_per_row_;
  const int64_t work = static_cast<int64_t>(out_h_) * out_w_ *
                       (stats_.entries * kQs8PatBlockFilters * 4 + 64);
  int threads = pool == nullptr ? 1 : pool->num_threads();
  while (threads > 1 && work / threads < kSparseMinWorkPerThread) --threads;
  if (static_cast<size_t>(threads) > units) threads = static_cast<int>(units);
  // Per thread: the gathered words and a byte per slot (ukernel.h),
  // rounded to 64 bytes.
  const size_t slot_bytes =
      (std::max<size_t>(slot_channel_.size(), 1) *
           (static_cast<size_t>(kernel_.tile_pixels) * 4 + 1) +
       63) / 64 * 64;
  if (xbuf_threads_ < threads) {
    xbuf_.Resize(slot_bytes * threads);
    xbuf_threads_ = threads;
  }
  const size_t x_image = static_cast<size_t>(in_h_) * in_w_ * in_c_;
  const size_t y_image = static_cast<size_t>(out_h_) * out_w_ * out_c_;
  for (int n = 0; n < batch_; ++n) {
    const int8_t* xn = x + n * x_image;
    int8_t* yn = y + n * y_image;
    if (threads <= 1) {
      // Input rows are laid out just before the first output row that
      // reads them, so that the planes are still in L1 when gathered.
      int filled = 0;
      for (int oy = 0; oy < out_h_; ++oy) {
        const int need =
            std::min(in_h_, oy * stride_h_ + 3 - pad_top_);
        if (need > filled) {
          FillPlanes(xn, filled, need);
          filled = need;
        }
        RunTiles(yn, oy * tiles_per_row_, (oy + 1) * tiles_per_row_,
                 xbuf_.data());
      }
      continue;
    }
    auto fill = [&](int t) {
      FillPlanes(xn, in_h_ * t / threads, in_h_ * (t + 1) / threads);
    };
    pool->Run(threads, fill);
    auto task = [&](int t) {
      const size_t b = units * t / threads;
      const size_t e = units * (t + 1) / threads;
      if (b < e) RunTiles(yn, b, e, xbuf_.data() + slot_bytes * t);
    };
    pool->Run(threads, task);
  }
}

}  // namespace tf_sparse
