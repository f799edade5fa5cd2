#include "cc/kernels/f32_conv3x3_vtaps.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv_patdnn.h"  // The 16 x 16 NHWC transposes.

namespace tf_sparse {

const F32VtapsUkernel& F32VtapsUkernelFor(Isa isa) {
  static const IsaKernels<const F32VtapsUkernel& (*)()> kKernels = {
      &F32VtapsUkernelScalar,
      TF_SPARSE_X86_ONLY(F32VtapsUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32VtapsUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32VtapsUkernelNeon),
      nullptr};
  return kKernels.For(isa)();
}

namespace {

// Taps (bit ky * kw + kx) that some filter of block b keeps at channel c,
// for kh x kw kernels.
uint64_t BlockTaps(const float* w, int out_c, int in_c, int kh, int kw, int b,
                   int c) {
  uint64_t taps = 0;
  const int o1 = std::min(out_c, (b + 1) * kVtapsBlock);
  for (int o = b * kVtapsBlock; o < o1; ++o) {
    const float* kern = w + static_cast<size_t>(o) * kh * kw * in_c + c;
    for (int t = 0; t < kh * kw; ++t) {
      if (kern[static_cast<size_t>(t) * in_c] != 0.0f) taps |= uint64_t{1} << t;
    }
  }
  return taps;
}

}  // namespace

VtapsStats MeasureVtaps(const float* w, int out_c, int in_c, int kernel_h,
                        int kernel_w) {
  VtapsStats s;
  s.out_channels = out_c;
  s.in_channels = in_c;
  s.kernel_h = kernel_h;
  s.kernel_w = kernel_w;
  s.blocks = (out_c + kVtapsBlock - 1) / kVtapsBlock;
  s.weights = static_cast<long long>(kernel_h) * kernel_w * out_c * in_c;
  for (long long i = 0; i < s.weights; ++i) s.zero_weights += w[i] == 0.0f;
  for (int b = 0; b < s.blocks; ++b) {
    for (int c = 0; c < in_c; ++c) {
      const int n = __builtin_popcountll(
          BlockTaps(w, out_c, in_c, kernel_h, kernel_w, b, c));
      s.pairs += n;
      s.zero_blocks += n == 0;
      s.max_block_taps = std::max(s.max_block_taps, n);
    }
  }
  return s;
}

std::unique_ptr<F32Conv3x3Vtaps> F32Conv3x3Vtaps::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, std::string* error) {
  return Create(w, out_c, in_c, bias, params, ActiveIsa(), error);
}

std::unique_ptr<F32Conv3x3Vtaps> F32Conv3x3Vtaps::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, Isa isa, std::string* error) {
  if (w == nullptr || out_c < 1 || in_c < 1) {
    *error = "weights must be [out >= 1][3][3][in >= 1]";
    return nullptr;
  }
  if (params.kernel_h < 1 || params.kernel_w < 1 ||
      params.kernel_h * params.kernel_w > kVtapsMaxTaps) {
    *error = "kernel must have sides >= 1 and at most " +
             std::to_string(kVtapsMaxTaps) + " taps, got " +
             std::to_string(params.kernel_h) + "x" +
             std::to_string(params.kernel_w);
    return nullptr;
  }
  if (params.stride_h < 1 || params.stride_w < 1) {
    *error = "strides must be >= 1";
    return nullptr;
  }
  if (params.dilation_h < 1 || params.dilation_w < 1) {
    *error = "dilations must be >= 1";
    return nullptr;
  }
  if (!(params.output_min <= params.output_max)) {
    *error = "output_min must not exceed output_max";
    return nullptr;
  }
  std::unique_ptr<F32Conv3x3Vtaps> op(new F32Conv3x3Vtaps());
  op->params_ = params;
  op->out_c_ = out_c;
  op->in_c_ = in_c;
  op->blocks_ = (out_c + kVtapsBlock - 1) / kVtapsBlock;
  const int kh = params.kernel_h, kw = params.kernel_w;
  const bool pointwise = kh == 1 && kw == 1;
  op->stats_ = MeasureVtaps(w, out_c, in_c, kh, kw);
  op->pair_ptr_.assign(op->blocks_ + 1, 0);
  op->pair_weight_.Resize(static_cast<size_t>(op->stats_.pairs) * kVtapsBlock);
  op->pair_tap_.reserve(op->stats_.pairs);
  op->pair_channel_.reserve(op->stats_.pairs);
  size_t e = 0;
  std::vector<uint64_t> taps(in_c);
  for (int b = 0; b < op->blocks_; ++b) {
    for (int c = 0; c < in_c; ++c) {
      taps[c] = BlockTaps(w, out_c, in_c, kh, kw, b, c);
    }
    // Pairs by kernel row, channel, kernel column: ascending offsets in X
    // (X[row][channel][column]), so a block walks its input in order.
    for (int ky = 0; ky < kh; ++ky) {
      for (int c = 0; c < in_c; ++c) {
        for (int kx = 0; kx < kw; ++kx) {
          const int t = kw * ky + kx;
          if (!(taps[c] >> t & 1)) continue;
          op->pair_tap_.push_back(static_cast<uint8_t>(t));
          op->pair_channel_.push_back(c);
          float* pw = op->pair_weight_.data() + e * kVtapsBlock;
          for (int j = 0; j < kVtapsBlock; ++j) {
            const int o = b * kVtapsBlock + j;
            pw[j] = o < out_c
                        ? w[(static_cast<size_t>(o) * kh * kw + t) * in_c + c]
                        : 0.0f;
          }
          ++e;
        }
      }
    }
    op->pair_ptr_[b + 1] = static_cast<int32_t>(e);
  }
  op->bias_.Resize(static_cast<size_t>(op->blocks_) * kVtapsBlock);
  if (bias != nullptr) {
    std::memcpy(op->bias_.data(), bias, sizeof(float) * out_c);
  }
  op->ukernel_ = &F32VtapsUkernelFor(isa);
  // 1x1 reads the NHWC input: pixels stride_w * in_c floats apart.
  op->fn_ = op->ukernel_->select(pointwise ? params.stride_w * in_c
                                           : params.stride_w);
  return op;
}

int64_t F32Conv3x3Vtaps::PackedBytes() const {
  return stats_.pairs * (4 * kVtapsBlock + 4 + 1) + 4 * (blocks_ + 1) +
         4 * static_cast<int64_t>(bias_.size());
}

bool F32Conv3x3Vtaps::Reshape(int batch, int in_h, int in_w, int* out_h,
                              int* out_w, std::string* error) {
  const int kh = params_.kernel_h, kw = params_.kernel_w;
  const int dh = params_.dilation_h, dw = params_.dilation_w;
  // The extent a dilated kernel covers.
  const int eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
  ConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_c = in_c_;
  s.out_c = out_c_;
  s.kernel_h = kh;
  s.kernel_w = kw;
  s.dilation_h = dh;
  s.dilation_w = dw;
  s.stride_h = params_.stride_h;
  s.stride_w = params_.stride_w;
  if (batch < 0 ||
      !ConvOutputSize(params_.padding, in_h, eh, s.stride_h, &s.out_h,
                      &s.pad_top) ||
      !ConvOutputSize(params_.padding, in_w, ew, s.stride_w, &s.out_w,
                      &s.pad_left)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) +
             " gives no output for a " + std::to_string(kh) + "x" +
             std::to_string(kw) + " kernel";
    return false;
  }
  if (kh == 1 && kw == 1) {
    // Straight on the input: a pair's offset is its channel.
    if (static_cast<size_t>(in_h) * in_w * in_c_ >
        static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      *error = "input too large for 32-bit offsets";
      return false;
    }
    pair_offset_.assign(pair_channel_.begin(), pair_channel_.end());
    shape_ = s;
    reshaped_ = true;
    *out_h = s.out_h;
    *out_w = s.out_w;
    return true;
  }
  const int tile = ukernel_->tile;
  const int tiles = (s.out_w + tile - 1) / tile;
  // Rows and columns of X the outputs read; a row's last tile reads up to
  // tiles * tile pixels (the extra ones are computed, never stored).
  rows_ = (s.out_h - 1) * s.stride_h + eh;
  cols_ = std::max(s.pad_left + in_w, (tiles * tile - 1) * s.stride_w + ew);
  const size_t need = static_cast<size_t>(rows_) * in_c_ * cols_;
  if (need > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    *error = "input too large for 32-bit offsets";
    return false;
  }
  if (planar_.size() != need) {
    planar_.Resize(need);  // Zero-filled: the borders stay zero.
  } else {
    std::fill(planar_.data(), planar_.data() + need, 0.0f);
  }
  pair_offset_.resize(pair_tap_.size());
  for (size_t e = 0; e < pair_tap_.size(); ++e) {
    const int ky = pair_tap_[e] / kw, kx = pair_tap_[e] % kw;
    pair_offset_[e] = static_cast<int32_t>(
        (static_cast<size_t>(ky) * dh * in_c_ + pair_channel_[e]) * cols_ +
        kx * dw);
  }
  shape_ = s;
  reshaped_ = true;
  *out_h = s.out_h;
  *out_w = s.out_w;
  return true;
}

void F32Conv3x3Vtaps::Transpose(const float* x, int row_begin, int row_end) {
  const ConvShape& s = shape_;
  const int C = in_c_;
  const size_t row_floats = static_cast<size_t>(C) * cols_;
  const F32PatdnnWriteFn write16 = F32PatdnnUkernelFor(ukernel_->isa).write16;
  static const float kZeros[16] = {};
  for (int iy = row_begin; iy < row_end; ++iy) {
    const int r = iy + s.pad_top;
    if (r < 0 || r >= rows_) continue;
    float* dst = planar_.data() + r * row_floats + s.pad_left;
    const float* src = x + static_cast<size_t>(iy) * s.in_w * C;
    int ix = 0;
    const int full_c = C / 16 * 16;
    if (write16 != nullptr && full_c > 0) {
      // 16 pixels x 16 channels at a time through the 16 x 16 transpose
      // (no bias, no clamp); leftover channels one by one.
      F32PatdnnWriteArgs a;
      a.bias = kZeros;
      a.lo = -std::numeric_limits<float>::infinity();
      a.hi = std::numeric_limits<float>::infinity();
      a.out_stride = cols_;
      a.pixels = 16;
      a.copies = 1;
      a.copy_step = 0;
      for (; ix + 16 <= s.in_w; ix += 16) {
        for (int c0 = 0; c0 < full_c; c0 += 16) {
          for (int j = 0; j < 16; ++j) {
            a.src[j] = src + static_cast<size_t>(ix + j) * C + c0;
          }
          a.out = dst + static_cast<size_t>(c0) * cols_ + ix;
          write16(a);
        }
        for (int j = 0; j < 16; ++j) {
          for (int c = full_c; c < C; ++c) {
            dst[static_cast<size_t>(c) * cols_ + ix + j] =
                src[static_cast<size_t>(ix + j) * C + c];
          }
        }
      }
    }
    for (; ix < s.in_w; ++ix) {
      for (int c = 0; c < C; ++c) {
        dst[static_cast<size_t>(c) * cols_ + ix] =
            src[static_cast<size_t>(ix) * C + c];
      }
    }
  }
}

void F32Conv3x3Vtaps::ComputeRows(const float* X, float* y, int row_begin,
                                  int row_end) const {
  const ConvShape& s = shape_;
  const int tile = ukernel_->tile;
  const size_t row_floats = static_cast<size_t>(in_c_) * cols_;
  F32VtapsArgs a;
  a.pixel_stride = static_cast<size_t>(s.stride_w);
  a.output_min = params_.output_min;
  a.output_max = params_.output_max;
  a.y_stride = static_cast<size_t>(out_c_);
  for (int oy = row_begin; oy < row_end; ++oy) {
    const float* xrow = X + static_cast<size_t>(oy) * s.stride_h * row_floats;
    float* yrow = y + static_cast<size_t>(oy) * s.out_w * out_c_;
    for (int ox0 = 0; ox0 < s.out_w; ox0 += tile) {
      a.x = xrow + static_cast<size_t>(ox0) * s.stride_w;
      a.pixels = std::min(tile, s.out_w - ox0);
      for (int b = 0; b < blocks_; ++b) {
        const int32_t p0 = pair_ptr_[b];
        a.offset = pair_offset_.data() + p0;
        a.weight = pair_weight_.data() + static_cast<size_t>(p0) * kVtapsBlock;
        a.num_pairs = pair_ptr_[b + 1] - p0;
        a.bias = bias_.data() + b * kVtapsBlock;
        a.y = yrow + static_cast<size_t>(ox0) * out_c_ + b * kVtapsBlock;
        a.channels = std::min(kVtapsBlock, out_c_ - b * kVtapsBlock);
        fn_(a);
      }
    }
  }
}

void F32Conv3x3Vtaps::ComputeRowsPointwise(const float* x, float* y,
                                           int row_begin, int row_end,
                                           float* tail) const {
  const ConvShape& s = shape_;
  const int tile = ukernel_->tile;
  const size_t C = static_cast<size_t>(in_c_);
  const size_t pixel = static_cast<size_t>(s.stride_w) * C;
  // `tail`: a partial tile's pixels, packed stride_w * C apart as the kernel
  // reads them (zeros after; tile * stride_w * C floats): the kernel
  // computes whole tiles, and the last row's would read past the input.
  F32VtapsArgs a;
  a.pixel_stride = pixel;
  a.output_min = params_.output_min;
  a.output_max = params_.output_max;
  a.y_stride = static_cast<size_t>(out_c_);
  for (int oy = row_begin; oy < row_end; ++oy) {
    const float* xrow = x + static_cast<size_t>(oy) * s.stride_h * s.in_w * C;
    float* yrow = y + static_cast<size_t>(oy) * s.out_w * out_c_;
    for (int ox0 = 0; ox0 < s.out_w; ox0 += tile) {
      a.pixels = std::min(tile, s.out_w - ox0);
      a.x = xrow + static_cast<size_t>(ox0) * pixel;
      if (a.pixels < tile) {
        for (int p = 0; p < a.pixels; ++p) {
          std::memcpy(tail + p * pixel, a.x + p * pixel, C * sizeof(float));
        }
        // Pixels past the row keep the zeros (only stores of real pixels
        // happen, but the kernel reads all `tile`).
        std::fill(tail + a.pixels * pixel, tail + tile * pixel, 0.0f);
        a.x = tail;
      }
      for (int b = 0; b < blocks_; ++b) {
        const int32_t p0 = pair_ptr_[b];
        a.offset = pair_offset_.data() + p0;
        a.weight = pair_weight_.data() + static_cast<size_t>(p0) * kVtapsBlock;
        a.num_pairs = pair_ptr_[b + 1] - p0;
        a.bias = bias_.data() + b * kVtapsBlock;
        a.y = yrow + static_cast<size_t>(ox0) * out_c_ + b * kVtapsBlock;
        a.channels = std::min(kVtapsBlock, out_c_ - b * kVtapsBlock);
        fn_(a);
      }
    }
  }
}

void F32Conv3x3Vtaps::Run(const float* x, float* y, ThreadPool* pool) {
  const ConvShape& s = shape_;
  if (!reshaped_ || s.batch == 0) return;
  const int threads = pool != nullptr ? pool->num_threads() : 1;
  const size_t in_item = static_cast<size_t>(s.in_h) * s.in_w * s.in_c;
  const size_t out_item = static_cast<size_t>(s.out_h) * s.out_w * s.out_c;
  for (int n = 0; n < s.batch; ++n) {
    const float* xn = x + n * in_item;
    float* yn = y + n * out_item;
    if (params_.kernel_h == 1 && params_.kernel_w == 1) {
      // One tail buffer per thread, kept between calls.
      const size_t tail_floats = static_cast<size_t>(ukernel_->tile) *
                                 s.stride_w * static_cast<size_t>(in_c_);
      if (tails_.size() < static_cast<size_t>(threads)) tails_.resize(threads);
      for (int t = 0; t < threads; ++t) {
        if (tails_[t].size() < tail_floats) tails_[t].Resize(tail_floats);
      }
      if (threads <= 1) {
        ComputeRowsPointwise(xn, yn, 0, s.out_h, tails_[0].data());
      } else {
        auto rows = [&](int t) {
          ComputeRowsPointwise(xn, yn, s.out_h * t / threads,
                               s.out_h * (t + 1) / threads, tails_[t].data());
        };
        pool->Run(threads, rows);
      }
      continue;
    }
    if (threads <= 1) {
      Transpose(xn, 0, s.in_h);
      ComputeRows(planar_.data(), yn, 0, s.out_h);
      continue;
    }
    auto transpose = [&](int t) {
      Transpose(xn, s.in_h * t / threads, s.in_h * (t + 1) / threads);
    };
    pool->Run(threads, transpose);
    auto compute = [&](int t) {
      ComputeRows(planar_.data(), yn, s.out_h * t / threads,
                  s.out_h * (t + 1) / threads);
    };
    pool->Run(threads, compute);
  }
}

}  // namespace tf_sparse
