#include "cc/kernels/f32_conv_patdnn.h"

#include <algorithm>
#include <array>
#include <limits>

#include "cc/kernels/dispatch.h"

namespace tf_sparse {
namespace {

size_t RoundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelFor(Isa isa) {
  static const IsaKernels<const F32PatdnnUkernel& (*)()> kKernels = {
      &F32PatdnnUkernelScalar,
      TF_SPARSE_X86_ONLY(F32PatdnnUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32PatdnnUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32PatdnnUkernelNeon),
      nullptr};
  return kKernels.For(isa)();
}

std::unique_ptr<F32PatdnnConv2D> F32PatdnnConv2D::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, std::string* error) {
  return Create(w, out_c, in_c, bias, params, ActiveIsa(), error);
}

std::unique_ptr<F32PatdnnConv2D> F32PatdnnConv2D::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, Isa isa, std::string* error) {
  if (w == nullptr || out_c < 1 || in_c < 1) {
    *error = "weights must be [out >= 1][3][3][in >= 1]";
    return nullptr;
  }
  if (params.stride_h < 1 || params.stride_w < 1) {
    *error = "strides must be >= 1";
    return nullptr;
  }
  if (!(params.output_min <= params.output_max)) {
    *error = "output_min must not exceed output_max";
    return nullptr;
  }
  std::unique_ptr<F32PatdnnConv2D> op(new F32PatdnnConv2D());
  if (!PackPatdnn(w, out_c, in_c, &op->packed_, &op->stats_, error)) {
    return nullptr;
  }
  op->params_ = params;
  op->bias_.assign(out_c, 0.0f);
  op->rank_.resize(out_c);
  for (int f = 0; f < out_c; ++f) op->rank_[op->packed_.reorder[f]] = f;
  if (bias != nullptr) op->bias_.assign(bias, bias + out_c);
  op->ukernel_ = &F32PatdnnUkernelFor(isa);
  op->tile_rows_ = op->ukernel_->tile_rows;
  op->tile_cols_ = op->ukernel_->tile_cols;
  return op;
}

bool F32PatdnnConv2D::Reshape(int batch, int in_h, int in_w, int* out_h,
                              int* out_w, std::string* error) {
  ConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_c = packed_.in_channels;
  s.out_c = packed_.out_channels;
  s.stride_h = params_.stride_h;
  s.stride_w = params_.stride_w;
  if (batch < 0 ||
      !ConvOutputSize(params_.padding, in_h, 3, s.stride_h, &s.out_h,
                      &s.pad_top) ||
      !ConvOutputSize(params_.padding, in_w, 3, s.stride_w, &s.out_w,
                      &s.pad_left)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) +
             " gives no output for a 3x3 kernel";
    return false;
  }
  shape_ = s;
  row_tiles_ = (s.out_h + tile_rows_ - 1) / tile_rows_;
  col_tiles_ = (s.out_w + tile_cols_ - 1) / tile_cols_;
  // Tiles read rows up to row_tiles * R - 1 + 2 / stride and columns up to
  // col_tiles * C - 1 + 2 / stride of a phase plane.
  planes_rows_ = row_tiles_ * tile_rows_ + 2;
  // Row length B: one the kernels are specialised for when it fits.
  size_t b = RoundUp(static_cast<size_t>(col_tiles_) * tile_cols_ + 2, 16);
  for (size_t fixed : {48, 80, 144}) {
    if (b <= fixed) {
      b = fixed;
      break;
    }
  }
  row_floats_ = b;
  copies_ = PatdnnShiftCopies(s.stride_w);
  phase_stride_ = b * copies_;
  row_stride_ = phase_stride_ * s.stride_h * s.stride_w;
  channel_stride_ = row_stride_ * planes_rows_;
  filter_fn_ = ukernel_->select(s.stride_h, s.stride_w, static_cast<int>(b));
  // Bands of one tile row: the smallest slice of X per input channel, so
  // that a block of channels in L1 is as deep as possible (measured faster
  // than bands of 2 or 4 tile rows, which share a call's set-up among more
  // tiles).
  band_rows_ = 1;
  bands_ = (row_tiles_ + band_rows_ - 1) / band_rows_;
  const size_t need = channel_stride_ * s.in_c;
  if (need > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    *error = "input too large for 32-bit tap offsets";
    return false;
  }
  if (planar_.size() != need) planar_.Resize(need);  // Zero-filled.
  else std::fill(planar_.data(), planar_.data() + need, 0.0f);
  BuildPlan();
  reshaped_ = true;
  *out_h = s.out_h;
  *out_w = s.out_w;
  return true;
}

void F32PatdnnConv2D::Transpose(const float* x, int row_begin, int row_end) {
  const ConvShape& s = shape_;
  const int sh = s.stride_h, sw = s.stride_w;
  float* X = planar_.data();
  // Copy k of column b lies k * (B - 1) floats after copy 0 of column b + k.
  // Entries that land before column 0 of copy k fall in the unread tail of
  // copy k - 1 (B exceeds the columns read by at least 2).
  const ptrdiff_t copy_step = static_cast<ptrdiff_t>(row_floats_) - 1;
  for (int iy = row_begin; iy < row_end; ++iy) {
    const int ry = iy + s.pad_top;
    const int a = ry / sh;
    if (a >= planes_rows_) break;
    const int py = ry % sh;
    int ix = 0;
    const int full_c = s.in_c / 16 * 16;
    if (ukernel_->write16 != nullptr && sh == 1 && sw == 1 && full_c > 0) {
      // Stride 1: 16 pixels x 16 channels at a time through the 16 x 16
      // transpose (no bias, no clamp); leftover channels one by one.
      static const float kZeros[16] = {};
      F32PatdnnWriteArgs w;
      w.bias = kZeros;
      w.lo = -std::numeric_limits<float>::infinity();
      w.hi = std::numeric_limits<float>::infinity();
      w.out_stride = channel_stride_;
      w.pixels = 16;
      w.copies = copies_;
      w.copy_step = copy_step;
      const auto fits = [&](int at) {
        return at >= 0 && at + 16 <= s.in_w &&
               static_cast<size_t>(at + s.pad_left) + 16 <= row_floats_;
      };
      const auto chunk = [&](int at) {
        const float* src = x + (static_cast<size_t>(iy) * s.in_w + at) * s.in_c;
        float* dst = X + a * row_stride_ + (at + s.pad_left);
        for (int c0 = 0; c0 < full_c; c0 += 16) {
          for (int j = 0; j < 16; ++j) w.src[j] = src + j * s.in_c + c0;
          w.out = dst + c0 * channel_stride_;
          ukernel_->write16(w);
        }
        for (int j = 0; j < 16; ++j) {
          for (int c = full_c; c < s.in_c; ++c) {
            const float v = src[j * s.in_c + c];
            for (int k = 0; k < copies_; ++k) {
              dst[c * channel_stride_ + j + k * copy_step] = v;
            }
          }
        }
      };
      for (; fits(ix); ix += 16) chunk(ix);
      if (ix < s.in_w && fits(s.in_w - 16)) {
        // A last chunk overlapping the one before (its pixels written twice
        // with the same values) instead of the scalar loop.
        chunk(s.in_w - 16);
        ix = s.in_w;
      }
    }
    for (; ix < s.in_w; ++ix) {
      const int rx = ix + s.pad_left;
      const size_t b = static_cast<size_t>(rx / sw);
      if (b >= row_floats_) break;
      const int px = rx % sw;
      float* dst = X + static_cast<size_t>(py * sw + px) * phase_stride_ +
                   a * row_stride_ + b;
      const float* src = x + (static_cast<size_t>(iy) * s.in_w + ix) * s.in_c;
      const int copies = std::min<int>(copies_, static_cast<int>(b) + 1);
      for (int c = 0; c < s.in_c; ++c) {
        for (int k = 0; k < copies; ++k) {
          dst[c * channel_stride_ + k * copy_step] = src[c];
        }
      }
    }
  }
}

void F32PatdnnConv2D::BuildPlan() {
  // Blocks of input channels whose slice of X for one band stays in L1
  // while every filter runs over it: each tap's loads then hit L1, and the
  // accumulators of a filter's tiles (a few lines per filter and block)
  // are what streams from L2.
  const ConvShape& s = shape_;
  const int in_c = packed_.in_channels;
  const int out_c = packed_.out_channels;
  const int P = packed_.num_patterns();
  // Floats of one channel that a band's tiles read: its rows (and the 2 /
  // stride_h below) of every phase and copy, the tiles' columns of each
  // (plus the 2 / stride_w that a misaligned load reaches at stride > 1).
  const int sh = s.stride_h, sw = s.stride_w;
  const size_t band_floats =
      static_cast<size_t>(band_rows_ * tile_rows_ + 2 / sh) * sh * sw *
      copies_ *
      std::min(row_floats_, RoundUp(col_tiles_ * tile_cols_ +
                                        (copies_ > 1 ? 0 : 2 / sw),
                                    16));
  block_channels_ = static_cast<int>(std::max<size_t>(
      1, std::min<size_t>(in_c, kL1Floats / band_floats)));
  num_blocks_ = (in_c + block_channels_ - 1) / block_channels_;
  std::vector<PatternTaps> taps(P);
  for (int p = 0; p < P; ++p) taps[p] = TapsOf(packed_.patterns[p]);
  // Kernels of each filter as (channel, kernel, pattern), by channel.
  std::vector<std::vector<std::array<int32_t, 3>>> by_filter(out_c);
  for (int f = 0; f < out_c; ++f) {
    const int32_t* stride = &packed_.stride[static_cast<size_t>(f) * (P + 1)];
    for (int p = 0; p < P; ++p) {
      for (int32_t k = packed_.offset[f] + stride[p];
           k < packed_.offset[f] + stride[p + 1]; ++k) {
        by_filter[f].push_back({packed_.index[k], k, p});
      }
    }
    std::sort(by_filter[f].begin(), by_filter[f].end());
  }
  tap_.clear();
  tap_weight_.clear();
  tap_.reserve(4 * packed_.num_kernels());
  tap_weight_.reserve(4 * packed_.num_kernels());
  plan_offset_.assign(static_cast<size_t>(num_blocks_) * out_c + 1, 0);
  std::vector<size_t> next(out_c, 0);
  first_block_.assign(out_c, num_blocks_);
  for (int blk = 0; blk < num_blocks_; ++blk) {
    const int c1 = std::min(in_c, (blk + 1) * block_channels_);
    for (int f = 0; f < out_c; ++f) {
      const auto& ks = by_filter[f];
      for (size_t& i = next[f]; i < ks.size() && ks[i][0] < c1; ++i) {
        const int32_t c = ks[i][0], k = ks[i][1];
        const PatternTaps& t = taps[ks[i][2]];
        for (int j = 0; j < kPatdnnTaps; ++j) {
          const int dy = t.dy[j], dx = t.dx[j];
          const int copy = std::min(dx / sw, copies_ - 1);
          const size_t at = static_cast<size_t>(c) * channel_stride_ +
                            static_cast<size_t>((dy % sh) * sw + dx % sw) *
                                phase_stride_ +
                            static_cast<size_t>(copy) * row_floats_ +
                            static_cast<size_t>(dy / sh) * row_stride_ +
                            (dx / sw - copy);
          tap_.push_back(static_cast<int32_t>(at));
          tap_weight_.push_back(packed_.weight[4 * static_cast<size_t>(k) + j]);
        }
      }
      plan_offset_[static_cast<size_t>(blk) * out_c + f + 1] =
          static_cast<int32_t>(tap_.size() / 4);
      if (first_block_[f] == num_blocks_ &&
          plan_offset_[static_cast<size_t>(blk) * out_c + f + 1] !=
              plan_offset_[static_cast<size_t>(blk) * out_c + f]) {
        first_block_[f] = blk;
      }
    }
  }
}

int F32PatdnnConv2D::AcquireSlot(int slots) {
  for (;;) {
    for (int i = 0; i < slots; ++i) {
      bool expected = false;
      if (slot_busy_[i].compare_exchange_strong(expected, true,
                                                std::memory_order_acquire)) {
        return i;
      }
    }
  }
}

void F32PatdnnConv2D::ComputeBand(int band, int f_begin, int f_step,
                                  float* acc) {
  const ConvShape& s = shape_;
  const int R = tile_rows_;
  const size_t filter_floats = FilterFloats();
  F32PatdnnFilterArgs args;
  args.row_stride = row_stride_;
  args.tiles_x = col_tiles_;
  const int rt0 = band * band_rows_;
  args.tiles_y = std::min(band_rows_, row_tiles_ - rt0);
  args.x = planar_.data() + static_cast<size_t>(rt0) * R * row_stride_;
  for (int f = f_begin; f < s.out_c; f += f_step) {
    if (first_block_[f] == num_blocks_) {  // No kernels: bias only.
      float* fa = acc + f * filter_floats;
      std::fill(fa, fa + filter_floats, 0.0f);
    }
  }
  for (int blk = 0; blk < num_blocks_; ++blk) {
    const int32_t* off = &plan_offset_[static_cast<size_t>(blk) * s.out_c];
    for (int f = f_begin; f < s.out_c; f += f_step) {
      const int k0 = off[f], k1 = off[f + 1];
      if (k0 == k1) continue;
      args.tap = tap_.data() + 4 * static_cast<size_t>(k0);
      args.weight = tap_weight_.data() + 4 * static_cast<size_t>(k0);
      args.num_kernels = k1 - k0;
      args.accumulate = blk != first_block_[f];
      args.acc = acc + f * filter_floats;
      filter_fn_(args);
    }
  }
}

void F32PatdnnConv2D::WriteBand(int band, const float* acc, int row_begin,
                                int row_end, float* y) const {
  const ConvShape& s = shape_;
  const int R = tile_rows_, C = tile_cols_;
  const size_t tile_floats = static_cast<size_t>(R) * C;
  const size_t filter_floats = FilterFloats();
  const float lo = params_.output_min, hi = params_.output_max;
  const int oy_band = band * band_rows_ * R;
  row_end = std::min(row_end, s.out_h - oy_band);
  // NHWC order, 16 channels at a time: each pixel's stores fill one cache
  // line, and the 16 accumulator lines read serve 16 pixels.
  constexpr int kBlock = 16;
  const F32PatdnnWriteFn write16 = ukernel_->write16;
  const float* base[kBlock];
  for (int o0 = 0; o0 < s.out_c; o0 += kBlock) {
    const int nb = std::min(kBlock, s.out_c - o0);
    for (int j = 0; j < nb; ++j) base[j] = acc + rank_[o0 + j] * filter_floats;
    const float* bias = bias_.data() + o0;
    const bool vector16 = nb == kBlock && write16 != nullptr;
    for (int row = row_begin; row < row_end; ++row) {
      const int ty = row / R, r = row % R;
      float* out = y + static_cast<size_t>(oy_band + row) * s.out_w * s.out_c + o0;
      int ox = 0;
      if (vector16) {
        // 16 pixels at a time (fewer at the row's end: the tile's padding
        // columns are read, not written) while they lie in one tile row.
        F32PatdnnWriteArgs w;
        w.bias = bias;
        w.lo = lo;
        w.hi = hi;
        w.out_stride = s.out_c;
        w.copies = 1;
        w.copy_step = 0;
        for (; ox < s.out_w && ox % C + 16 <= C; ox += 16) {
          w.pixels = std::min(16, s.out_w - ox);
          const size_t at =
              (static_cast<size_t>(ty) * col_tiles_ + ox / C) * tile_floats +
              r * C + ox % C;
          for (int j = 0; j < kBlock; ++j) w.src[j] = base[j] + at;
          w.out = out + static_cast<size_t>(ox) * s.out_c;
          write16(w);
        }
      }
      ox = std::min(ox, s.out_w);
      out += static_cast<size_t>(ox) * s.out_c;
      for (; ox < s.out_w; ++ox, out += s.out_c) {
        const size_t at =
            (static_cast<size_t>(ty) * col_tiles_ + ox / C) * tile_floats +
            r * C + ox % C;
        for (int j = 0; j < nb; ++j) {
          out[j] = std::min(std::max(base[j][at] + bias[j], lo), hi);
        }
      }
    }
  }
}

void F32PatdnnConv2D::Run(const float* x, float* y, ThreadPool* pool) {
  const ConvShape& s = shape_;
  if (!reshaped_ || s.batch == 0) return;
  const int threads = std::min(pool != nullptr ? pool->num_threads() : 1,
                               kMaxThreads);
  const size_t in_item = static_cast<size_t>(s.in_h) * s.in_w * s.in_c;
  const size_t out_item = static_cast<size_t>(s.out_h) * s.out_w * s.out_c;
  const size_t acc_size = static_cast<size_t>(band_rows_) * col_tiles_ *
                          tile_rows_ * tile_cols_ * s.out_c;
  if (acc_.size() < static_cast<size_t>(threads)) acc_.resize(threads);
  for (int t = 0; t < threads; ++t) {
    if (acc_[t].size() != acc_size) acc_[t].Resize(acc_size);
  }
  const int band_out_rows = band_rows_ * tile_rows_;
  for (int n = 0; n < s.batch; ++n) {
    const float* xn = x + n * in_item;
    float* yn = y + n * out_item;
    if (threads <= 1) {
      // Each band transposes the input rows it is the first to read, so
      // that its slice of X is still in L2 when the kernels read it.
      int transposed = 0;
      for (int band = 0; band < bands_; ++band) {
        const int a_end = (band + 1) * band_out_rows + 2;
        const int rows =
            std::min(s.in_h, std::max(0, a_end * s.stride_h - s.pad_top));
        if (rows > transposed) {
          Transpose(xn, transposed, rows);
          transposed = rows;
        }
        ComputeBand(band, 0, 1, acc_[0].data());
        WriteBand(band, acc_[0].data(), 0, band_out_rows, yn);
      }
      continue;
    }
    const int rows_per = (s.in_h + threads - 1) / threads;
    auto transpose = [&](int t) {
      Transpose(xn, std::min(t * rows_per, s.in_h),
                std::min((t + 1) * rows_per, s.in_h));
    };
    pool->Run(threads, transpose);
    if (bands_ >= 2 * threads) {
      // A task per band (each core then reads only its own rows of the
      // input); a late worker still finds bands left. A running task holds
      // one of `threads` accumulator slots: at most that many run at once.
      auto bands = [&](int band) {
        const int slot = AcquireSlot(threads);
        ComputeBand(band, 0, 1, acc_[slot].data());
        WriteBand(band, acc_[slot].data(), 0, band_out_rows, yn);
        slot_busy_[slot].store(false, std::memory_order_release);
      };
      pool->Run(bands_, bands);
    } else {
      // Few bands: filters per thread, then the band's rows per thread.
      for (int band = 0; band < bands_; ++band) {
        auto compute = [&](int t) {
          ComputeBand(band, t, threads, acc_[0].data());
        };
        pool->Run(threads, compute);
        auto write = [&](int t) {
          WriteBand(band, acc_[0].data(), band_out_rows * t / threads,
                    band_out_rows * (t + 1) / threads, yn);
        };
        pool->Run(threads, write);
      }
    }
  }
}

}  // namespace tf_sparse
