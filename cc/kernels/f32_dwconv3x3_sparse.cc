#include "cc/kernels/f32_dwconv3x3_sparse.h"

#include <algorithm>
#include <limits>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/row_split.h"

namespace tf_sparse {
namespace {

// Bit t of the result: channel c uses tap t.
uint16_t ChannelMask(const float* w, int channels, int c) {
  uint16_t m = 0;
  for (int t = 0; t < 9; ++t) {
    if (w[static_cast<size_t>(t) * channels + c] != 0.0f) m |= 1u << t;
  }
  return m;
}

}  // namespace

const F32DwConv3x3Ukernel& F32DwConv3x3UkernelFor(Isa isa) {
  static const IsaKernels<const F32DwConv3x3Ukernel& (*)()> kKernels = {
      &F32DwConv3x3UkernelScalar,
      TF_SPARSE_X86_ONLY(F32DwConv3x3UkernelAvx2),
      TF_SPARSE_X86_ONLY(F32DwConv3x3UkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32DwConv3x3UkernelNeon),
      nullptr};
  return kKernels.For(isa)();
}

DwTapStats MeasureDwTaps(const float* w, int channels, int lanes) {
  DwTapStats s;
  s.channels = channels;
  s.lanes = lanes;
  s.weights = 9LL * channels;
  s.groups = (channels + lanes - 1) / lanes;
  for (int g = 0; g < s.groups; ++g) {
    uint16_t group_mask = 0;
    for (int c = g * lanes; c < std::min(channels, (g + 1) * lanes); ++c) {
      const uint16_t m = ChannelMask(w, channels, c);
      const int taps = __builtin_popcount(m);
      s.zero_weights += 9 - taps;
      s.zero_channels += taps == 0;
      s.max_channel_taps = std::max(s.max_channel_taps, taps);
      group_mask |= m;
    }
    s.group_taps += __builtin_popcount(group_mask);
  }
  return s;
}

void PackDwTaps(const float* w, const float* bias, int channels, int lanes,
                DwTapsWeights* packed) {
  DwTapsWeights p;
  p.channels = channels;
  p.lanes = lanes;
  const int groups = (channels + lanes - 1) / lanes;
  p.groups.resize(groups);
  p.bias.assign(static_cast<size_t>(groups) * lanes, 0.0f);
  for (int g = 0; g < groups; ++g) {
    F32DwGroup& grp = p.groups[g];
    grp.c0 = g * lanes;
    grp.channels = std::min(lanes, channels - grp.c0);
    uint16_t mask = 0;
    for (int j = 0; j < grp.channels; ++j) {
      mask |= ChannelMask(w, channels, grp.c0 + j);
      if (bias != nullptr) {
        p.bias[static_cast<size_t>(g) * lanes + j] = bias[grp.c0 + j];
      }
    }
    grp.tap_begin = static_cast<int32_t>(p.tap.size());
    grp.num_taps = __builtin_popcount(mask);
    // Ascending tap order: consecutive taps of a row read neighbouring
    // input pixels.
    for (int t = 0; t < 9; ++t) {
      if (!(mask & (1u << t))) continue;
      p.tap.push_back(static_cast<uint8_t>(t));
      for (int j = 0; j < lanes; ++j) {
        p.weight.push_back(
            j < grp.channels ? w[static_cast<size_t>(t) * channels + grp.c0 + j]
                             : 0.0f);
      }
    }
  }
  *packed = std::move(p);
}

void UnpackDwTaps(const DwTapsWeights& packed, float* w) {
  std::fill(w, w + 9 * static_cast<size_t>(packed.channels), 0.0f);
  for (const F32DwGroup& g : packed.groups) {
    for (int k = 0; k < g.num_taps; ++k) {
      const int t = packed.tap[g.tap_begin + k];
      for (int j = 0; j < g.channels; ++j) {
        w[static_cast<size_t>(t) * packed.channels + g.c0 + j] =
            packed.weight[static_cast<size_t>(g.tap_begin + k) * packed.lanes +
                          j];
      }
    }
  }
}

std::unique_ptr<F32SparseDepthwiseConv3x3> F32SparseDepthwiseConv3x3::Create(
    const float* w, int channels, const float* bias, const Params& params,
    std::string* error) {
  return Create(w, channels, bias, params, ActiveIsa(), error);
}

std::unique_ptr<F32SparseDepthwiseConv3x3> F32SparseDepthwiseConv3x3::Create(
    const float* w, int channels, const float* bias, const Params& params,
    Isa isa, std::string* error) {
  if (w == nullptr) {
    *error = "w (depthwise weights [3][3][C]) is null";
    return nullptr;
  }
  if (channels < 1) {
    *error = "channels must be >= 1, got " + std::to_string(channels);
    return nullptr;
  }
  if (params.stride_h < 1 || params.stride_w < 1) {
    *error = "strides must be >= 1, got " + std::to_string(params.stride_h) +
             "x" + std::to_string(params.stride_w);
    return nullptr;
  }
  Isa resolved = isa;
  const std::string problem = CheckClampAndIsa(
      params.output_min, params.output_max, static_cast<int>(isa), &resolved);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  std::unique_ptr<F32SparseDepthwiseConv3x3> op(
      new F32SparseDepthwiseConv3x3());
  op->ukernel_ = &F32DwConv3x3UkernelFor(resolved);
  op->params_ = params;
  const int lanes = op->ukernel_->lanes;
  op->stats_ = MeasureDwTaps(w, channels, lanes);
  PackDwTaps(w, bias, channels, lanes, &op->packed_);
  return op;
}

bool F32SparseDepthwiseConv3x3::Reshape(int batch, int in_h, int in_w,
                                        int* out_h, int* out_w,
                                        std::string* error) {
  ConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_c = s.out_c = packed_.channels;
  s.stride_h = params_.stride_h;
  s.stride_w = params_.stride_w;
  if (batch < 0) {
    *error = "batch must be >= 0, got " + std::to_string(batch);
    return false;
  }
  if (!ConvOutputSize(params_.padding, in_h, 3, s.stride_h, &s.out_h,
                      &s.pad_top) ||
      !ConvOutputSize(params_.padding, in_w, 3, s.stride_w, &s.out_w,
                      &s.pad_left)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) +
             " gives no output for a 3x3 depthwise kernel";
    return false;
  }
  const size_t zeros =
      static_cast<size_t>(in_w) * s.in_c + static_cast<size_t>(packed_.lanes);
  if (zeros_.size() != zeros) zeros_.Resize(zeros);  // Zero-filled.
  // Interior columns: ox * stride - pad_left >= 0 and
  // ox * stride - pad_left + 2 <= in_w - 1.
  int begin = 0;
  while (begin < s.out_w && begin * s.stride_w - s.pad_left < 0) ++begin;
  int end = begin;
  while (end < s.out_w && end * s.stride_w - s.pad_left + 2 < in_w) ++end;
  col_begin_ = begin;
  col_end_ = end;
  shape_ = s;
  reshaped_ = true;
  *out_h = s.out_h;
  *out_w = s.out_w;
  return true;
}

void F32SparseDepthwiseConv3x3::RunRows(const float* x, float* y,
                                        size_t row_begin,
                                        size_t row_end) const {
  const ConvShape& s = shape_;
  const size_t C = static_cast<size_t>(s.in_c);
  const float* const zeros = zeros_.data();
  F32DwConv3x3Args a;
  a.out_step = C;
  a.in_step = static_cast<size_t>(s.stride_w) * C;
  a.groups = packed_.groups.data();
  a.group_begin = 0;
  a.group_end = static_cast<int>(packed_.groups.size());
  a.tap = packed_.tap.data();
  a.weight = packed_.weight.data();
  a.bias = packed_.bias.data();
  a.lo = params_.output_min;
  a.hi = params_.output_max;
  a.left = col_begin_;
  a.pixels = col_end_ - col_begin_;
  a.right = s.out_w - col_end_;
  // 9 pointers per border pixel of a row: at most 2 on each side for a
  // 3x3 kernel, more only when the row has no interior at all (tiny inputs,
  // strides above the kernel): on the stack but for those.
  const size_t border_pixels = static_cast<size_t>(a.left + a.right);
  const float* stack_border[9 * 8];
  std::vector<const float*> heap_border;
  const float** border = stack_border;
  if (border_pixels > 8) {
    heap_border.resize(9 * border_pixels);
    border = heap_border.data();
  }
  a.border_in = border;
  for (size_t r = row_begin; r < row_end; ++r) {
    const size_t n = r / s.out_h;
    const int oy = static_cast<int>(r % s.out_h);
    // Input rows of the three kernel rows; a row in the padding reads the
    // zero buffer, which is as long as an input row.
    const float* rows[3];
    for (int dy = 0; dy < 3; ++dy) {
      const int iy = oy * s.stride_h - s.pad_top + dy;
      rows[dy] = iy >= 0 && iy < s.in_h
                     ? x + (n * s.in_h + iy) * static_cast<size_t>(s.in_w) * C
                     : zeros;
    }
    // Border pixels: a tap whose column (or row) is outside the input
    // reads zeros.
    const float** bp = border;
    const auto border_pixel = [&](int ox) {
      for (int dy = 0; dy < 3; ++dy) {
        for (int dx = 0; dx < 3; ++dx) {
          const int ix = ox * s.stride_w - s.pad_left + dx;
          *bp++ = ix >= 0 && ix < s.in_w ? rows[dy] + ix * C : zeros;
        }
      }
    };
    for (int ox = 0; ox < col_begin_; ++ox) border_pixel(ox);
    for (int ox = col_end_; ox < s.out_w; ++ox) border_pixel(ox);
    const size_t ix0 =
        static_cast<size_t>(std::max(0, col_begin_ * s.stride_w - s.pad_left));
    for (int dy = 0; dy < 3; ++dy) {
      for (int dx = 0; dx < 3; ++dx) {
        // Unused when the row has no interior pixel.
        a.in[3 * dy + dx] = rows[dy] + (ix0 + dx) * C;
      }
    }
    a.out = y + r * static_cast<size_t>(s.out_w) * C;
    ukernel_->run(a);
  }
}

void F32SparseDepthwiseConv3x3::Run(const float* x, float* y,
                                    ThreadPool* pool) {
  const ConvShape& s = shape_;
  if (!reshaped_ || s.batch == 0) return;
  const size_t rows = static_cast<size_t>(s.batch) * s.out_h;
  // Work in multiply-adds actually executed, for the thread count.
  const int64_t work = static_cast<int64_t>(rows) * s.out_w *
                       std::max<int64_t>(1, stats_.group_taps) * packed_.lanes;
  RunInShares(
      pool, work, rows,
      [&](int threads) { return EqualShares(rows, threads); },
      [&](size_t begin, size_t end) { RunRows(x, y, begin, end); });
}

}  // namespace tf_sparse
