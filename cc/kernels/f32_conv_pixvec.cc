#include "cc/kernels/f32_conv_pixvec.h"

#include "cc/kernels/isa.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cc/kernels/dispatch.h"

namespace tf_sparse {
namespace {

// Wq for out_w + the taps' reach of columns. A vector load that splits
// across two cache lines takes two load slots, and loads are what bounds
// the micro-kernel: rows of a multiple of 16 floats make every tap with a
// column offset of 0 aligned, when that costs at most 1/8 more flat
// positions (56 + 2 -> 64, 28 + 2 -> 32; not 7 + 2).
long long RowFloats(long long min_floats) {
  const long long r16 = (min_floats + 15) / 16 * 16;
  return r16 * 8 <= min_floats * 9 ? r16 : min_floats;
}

// Shifted copies of the planes (f32_conv_pixvec.h, copies_): when the
// rows are whole vectors (then every load is aligned), the taps reach 1 or
// 2 columns right, and X with its copies stays within half of a 2 MiB L2.
// Measured on the benchmark's 3x3 layers: 14x14x256 21% faster with them,
// 28x28x128 4%; 56x56x64 (2.8 MB with copies) 18% slower and 28x28x256
// stride 2 42% slower, their transposes spilling to L3. On AVX-512 at
// stride 1 the tile-local views (below) replace them: 14x14x256 8-14%
// faster than with the copies (6 paired runs, the machine loaded).
int ShiftCopies(bool pointwise, int group, int stride_h, int stride_w,
                long long hq, long long wq, long long dxq, int phases,
                int in_c) {
  if (pointwise || group < 8 || wq % 16 != 0 || dxq < 1 || dxq > 2) return 1;
  if (group >= 16 && stride_h == 1 && stride_w == 1) return 1;
  const long long copies = dxq + 1;
  const long long bytes = copies * (hq * wq + copies) * phases * in_c * 4;
  return bytes <= (1LL << 20) ? static_cast<int>(copies) : 1;
}

// Tile-local views (f32_conv_pixvec.h, local_): AVX-512 (64-byte loads,
// each unaligned one splits) at stride 1 (where it keeps no shifted copies
// of the planes). Measured on the benchmark's 3x3 layers (medians of 4-5 runs, the
// machine loaded): 28x28x128 15-25% faster, 7x7x512 10-20%, 56x56x64
// about 5% (its views cost about as much to copy as the split loads they
// save: copying from aligned loads and permutes instead was no faster);
// stride 2 (28x28x256 -> 14x14) 5% slower: four phases make nine views of
// 64 floats per channel, so small blocks.
bool LocalViews(const ConvShape& s, bool pointwise, int group, int copies) {
  return !pointwise && group >= 16 && copies == 1 && s.stride_h == 1 &&
         s.stride_w == 1;
}

// Distinct displacements (phase, rows down, columns right) that the taps
// read, in tap order; tap_view[t] (when not null): tap t's index. With
// merge_rows (rows of a multiple of 16 floats: a row down stays aligned),
// views differ only by phase and columns, and each spans the rows too.
int TapViews(const ConvShape& s, bool merge_rows, std::vector<long long>* key,
             std::vector<int>* tap_view) {
  key->clear();
  if (tap_view != nullptr) tap_view->clear();
  for (int ky = 0; ky < s.kernel_h; ++ky) {
    for (int kx = 0; kx < s.kernel_w; ++kx) {
      const long long dy = static_cast<long long>(ky) * s.dilation_h;
      const long long dx = static_cast<long long>(kx) * s.dilation_w;
      // Unique per view: phase (dy % sh, dx % sw), rows dy / sh, columns
      // dx / sw (each below 2^20: kernels have at most 1024 taps).
      const long long k = (((dy % s.stride_h) * s.stride_w + dx % s.stride_w)
                           << 40) +
                          ((merge_rows ? 0 : dy / s.stride_h) << 20) +
                          dx / s.stride_w;
      const auto it = std::find(key->begin(), key->end(), k);
      if (tap_view != nullptr) {
        tap_view->push_back(static_cast<int>(it - key->begin()));
      }
      if (it == key->end()) key->push_back(k);
    }
  }
  return static_cast<int>(key->size());
}

}  // namespace

PixvecStats MeasurePixvec(const float* w, int out_c, int in_c, int kernel_h,
                          int kernel_w) {
  PixvecStats s;
  s.out_channels = out_c;
  s.in_channels = in_c;
  s.kernel_h = kernel_h;
  s.kernel_w = kernel_w;
  const size_t per_filter = static_cast<size_t>(kernel_h) * kernel_w * in_c;
  s.weights = static_cast<long long>(per_filter) * out_c;
  s.tap_nonzeros.assign(static_cast<size_t>(kernel_h) * kernel_w, 0);
  for (int n = 0; n < out_c; ++n) {
    int count = 0;
    for (size_t i = 0; i < per_filter; ++i) {
      if (w[n * per_filter + i] != 0.0f) {
        ++count;
        ++s.tap_nonzeros[i / in_c];
      }
    }
    s.nonzeros += count;
    if (count == 0) ++s.empty_filters;
    s.max_filter_nonzeros = std::max(s.max_filter_nonzeros, count);
  }
  return s;
}

const F32PixvecUkernel& F32PixvecUkernelFor(Isa isa) {
  static const IsaKernels<const F32PixvecUkernel& (*)()> kKernels = {
      &F32PixvecUkernelScalar,
      TF_SPARSE_X86_ONLY(F32PixvecUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32PixvecUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32PixvecUkernelNeon),
      nullptr};  // SVE: NEON's.
  return kKernels.For(isa)();
}

// Fitted by non-negative least squares (relative error) on the 13 layers
// of cc/bench/f32_conv_pixvec_bench.cc plus the same layers with all-zero
// weights (transpose, views, stores and calls alone), 1 thread, medians of
// 3 runs of 51, on an Intel Xeon (Sapphire-Rapids-class, AVX-512, 48 KiB
// L1d, 2 MiB L2, shared and loaded VM; clock measured 3.3 GHz).
//   AVX-512: mean |predicted / measured - 1| = 4.7%, worst 10.5% on the
//     13 layers (7x7x512 3x3 under); 3.0% / 9.4% on the zero-weight runs.
//     Since the stride-1 layers read tile-local aligned views, only the
//     stride-2 layer has split loads: per_split_load rests on that layer.
//   AVX2 (earlier fit, checked again on runs of this code): 7.2%, worst 15%
//     (layers); 11% / 31% (zero weights). Its loads are 32 bytes: the
//     split term is left out; it has no local views.
// A vector FMA costs 1.10 cycles (AVX-512; 0.5 at the FMA ports' peak):
// the micro-kernel is bound by its loads (one per FMA plus the offset and
// the weight of each nonzero), a float copied into a local view 0.30.
// NEON and scalar: not measured, the AVX2 values.
PixvecCostModel PixvecCostModelFor(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return {1.10, 1.14, 0.53, 0.56, 373.0, 0.30};
    default:
      return {0.90, 0.0, 0.73, 0.50, 148.0, 0.0};
  }
}

PixvecCostTerms PixvecTerms(const PixvecStats& stats, const ConvShape& s,
                            Isa isa) {
  const F32PixvecUkernel& k = F32PixvecUkernelFor(isa);
  const long long dyq = ((s.kernel_h - 1) * s.dilation_h) / s.stride_h;
  const long long dxq = ((s.kernel_w - 1) * s.dilation_w) / s.stride_w;
  const bool pointwise = s.kernel_h == 1 && s.kernel_w == 1 &&
                         s.stride_h == 1 && s.stride_w == 1;
  const long long wq = pointwise ? s.out_w : RowFloats(s.out_w + dxq);
  std::vector<bool> read(static_cast<size_t>(s.stride_h) * s.stride_w);
  int phases = 0;
  for (int ky = 0; ky < s.kernel_h; ++ky) {
    for (int kx = 0; kx < s.kernel_w; ++kx) {
      const size_t ph = static_cast<size_t>(
          (ky * s.dilation_h) % s.stride_h * s.stride_w +
          (kx * s.dilation_w) % s.stride_w);
      if (!read[ph]) ++phases;
      read[ph] = true;
    }
  }
  const long long hq = s.out_h + dyq;
  const int copies =
      ShiftCopies(pointwise, k.group, s.stride_h, s.stride_w, hq, wq, dxq,
                  phases, s.in_c);
  const bool local = LocalViews(s, pointwise, k.group, copies);
  const bool merge = wq % 16 == 0;
  std::vector<long long> keys;
  const int views = local ? TapViews(s, merge, &keys, nullptr) : 0;
  const long long view_floats = k.tile + (merge ? dyq * wq : 0);
  const long long span =
      local ? views * view_floats
            : phases * copies * (k.tile + dyq * wq + (copies > 1 ? 0 : dxq));
  const long long budget =
      local ? F32ConvPixvec::kLocalFloats
            : F32ConvPixvec::L1Floats(s.kernel_h * s.kernel_w);
  const long long block =
      std::max(1LL, std::min<long long>(s.in_c, budget / span));
  const double blocks = std::ceil(static_cast<double>(s.in_c) / block);
  const double tiles =
      std::ceil(static_cast<double>(s.out_h) * wq / k.tile);
  const double groups = std::ceil(static_cast<double>(s.out_c) / k.group);
  PixvecCostTerms t;
  const double per_nonzero = tiles * k.tile / k.group;
  t.vector_fmas = static_cast<double>(stats.nonzeros) * per_nonzero;
  if (k.group >= 16 && !local) {
    for (int ky = 0; ky < s.kernel_h; ++ky) {
      for (int kx = 0; kx < s.kernel_w; ++kx) {
        const long long at =
            (ky * s.dilation_h / s.stride_h) * wq +
            (copies > 1 ? 0 : kx * s.dilation_w / s.stride_w);
        const size_t tap = static_cast<size_t>(ky) * s.kernel_w + kx;
        if (at % 16 != 0 && tap < stats.tap_nonzeros.size()) {
          t.split_loads += stats.tap_nonzeros[tap] * per_nonzero;
        }
      }
    }
  }
  t.inputs = static_cast<double>(s.in_h) * s.in_w * s.in_c * copies;
  t.outputs = static_cast<double>(s.out_h) * s.out_w * s.out_c;
  t.calls = tiles * groups * blocks;
  if (local) t.gathered = tiles * s.in_c * views * view_floats;
  return t;
}

double EstimatePixvecCycles(const PixvecStats& stats, const ConvShape& s,
                            Isa isa) {
  const PixvecCostTerms t = PixvecTerms(stats, s, isa);
  const PixvecCostModel m = PixvecCostModelFor(isa);
  return m.per_vector_fma * t.vector_fmas + m.per_split_load * t.split_loads +
         m.per_input_value * t.inputs +
         m.per_output_value * t.outputs + m.per_call * t.calls +
         m.per_gathered * t.gathered;
}

std::unique_ptr<F32ConvPixvec> F32ConvPixvec::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, std::string* error) {
  return Create(w, out_c, in_c, bias, params, ActiveIsa(), error);
}

std::unique_ptr<F32ConvPixvec> F32ConvPixvec::Create(
    const float* w, int out_c, int in_c, const float* bias,
    const Params& params, Isa isa, std::string* error) {
  if (w == nullptr || out_c < 1 || in_c < 1) {
    *error = "weights must be [out >= 1][kernel_h][kernel_w][in >= 1]";
    return nullptr;
  }
  if (params.kernel_h < 1 || params.kernel_w < 1 ||
      static_cast<long long>(params.kernel_h) * params.kernel_w > kMaxTaps) {
    *error = "kernel must have sides >= 1 and at most " +
             std::to_string(kMaxTaps) + " taps, got " +
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
  const int taps = params.kernel_h * params.kernel_w;
  const size_t per_filter = static_cast<size_t>(taps) * in_c;
  if (per_filter * out_c > static_cast<size_t>(
                                std::numeric_limits<int32_t>::max())) {
    *error = "weights too large for 32-bit nonzero indices";
    return nullptr;
  }
  std::unique_ptr<F32ConvPixvec> op(new F32ConvPixvec());
  op->params_ = params;
  op->out_c_ = out_c;
  op->in_c_ = in_c;
  op->stats_ =
      MeasurePixvec(w, out_c, in_c, params.kernel_h, params.kernel_w);
  op->nz_ptr_.assign(out_c + 1, 0);
  op->nz_channel_.reserve(op->stats_.nonzeros);
  op->nz_tap_.reserve(op->stats_.nonzeros);
  op->nz_weight_.reserve(op->stats_.nonzeros);
  // Channel-major within a filter: consecutive nonzeros read nearby planes.
  for (int n = 0; n < out_c; ++n) {
    const float* f = w + n * per_filter;
    for (int c = 0; c < in_c; ++c) {
      for (int t = 0; t < taps; ++t) {
        const float v = f[static_cast<size_t>(t) * in_c + c];
        if (v == 0.0f) continue;
        op->nz_channel_.push_back(c);
        op->nz_tap_.push_back(static_cast<int16_t>(t));
        op->nz_weight_.push_back(v);
      }
    }
    op->nz_ptr_[n + 1] = static_cast<int32_t>(op->nz_weight_.size());
  }
  op->bias_.assign(out_c, 0.0f);
  if (bias != nullptr) op->bias_.assign(bias, bias + out_c);
  op->ukernel_ = &F32PixvecUkernelFor(isa);
  return op;
}

int64_t F32ConvPixvec::PackedBytes() const {
  return static_cast<int64_t>(nz_weight_.size()) *
             (sizeof(float) + sizeof(int32_t)) +
         static_cast<int64_t>(nz_ptr_.size()) * sizeof(int32_t) +
         static_cast<int64_t>(bias_.size()) * sizeof(float);
}

bool F32ConvPixvec::Reshape(int batch, int in_h, int in_w, int* out_h,
                            int* out_w, std::string* error) {
  const Params& p = params_;
  ConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_c = in_c_;
  s.out_c = out_c_;
  s.kernel_h = p.kernel_h;
  s.kernel_w = p.kernel_w;
  s.stride_h = p.stride_h;
  s.stride_w = p.stride_w;
  s.dilation_h = p.dilation_h;
  s.dilation_w = p.dilation_w;
  if (batch < 0 || in_h < 1 || in_w < 1) {
    *error = "input must be [batch >= 0][h >= 1][w >= 1][in], got " +
             std::to_string(batch) + "x" + std::to_string(in_h) + "x" +
             std::to_string(in_w);
    return false;
  }
  const long long eh = static_cast<long long>(p.kernel_h - 1) * p.dilation_h + 1;
  const long long ew = static_cast<long long>(p.kernel_w - 1) * p.dilation_w + 1;
  if (eh > std::numeric_limits<int>::max() / 2 ||
      ew > std::numeric_limits<int>::max() / 2 ||
      !ConvOutputSize(p.padding, in_h, static_cast<int>(eh), s.stride_h,
                      &s.out_h, &s.pad_top) ||
      !ConvOutputSize(p.padding, in_w, static_cast<int>(ew), s.stride_w,
                      &s.out_w, &s.pad_left)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) +
             " gives no output for a " + std::to_string(p.kernel_h) + "x" +
             std::to_string(p.kernel_w) + " kernel";
    return false;
  }
  const int sh = s.stride_h, sw = s.stride_w;
  const long long dyq = (eh - 1) / sh, dxq = (ew - 1) / sw;
  const long long hq = s.out_h + dyq;
  // 1x1 at stride 1: no border, flat position = pixel, and each tile's
  // pixels are transposed right before they are used.
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && sh == 1 &&
                         sw == 1;
  const long long wq = pointwise ? s.out_w : RowFloats(s.out_w + dxq);
  // Phases some tap reads.
  std::vector<int> index(static_cast<size_t>(sh) * sw, -1);
  int phases = 0;
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    for (int kx = 0; kx < p.kernel_w; ++kx) {
      const int ph = static_cast<int>((static_cast<long long>(ky) *
                                       p.dilation_h) % sh) * sw +
                     static_cast<int>((static_cast<long long>(kx) *
                                       p.dilation_w) % sw);
      if (index[ph] < 0) index[ph] = phases++;
    }
  }
  const int T = ukernel_->tile;
  const long long flat = s.out_h * wq;
  const long long tiles = (flat + T - 1) / T;
  // Planes start on 64-byte boundaries (so do tiles: T is a multiple of
  // 16): 1x1 loads are all aligned.
  const int copies = ShiftCopies(pointwise, ukernel_->group, sh, sw, hq, wq,
                                 dxq, phases, in_c_);
  // Pointwise: X is one tile, [in_c][T]. Planes end past hq * wq by
  // `copies` floats, where copy k - 1 takes copy k's first k positions.
  long long plane_stride =
      pointwise ? T
                : (hq * wq + (copies > 1 ? copies : 0) + 15) / 16 * 16;
  // Planes a multiple of 1 KiB apart would put a tile's loads of
  // consecutive channels in the same few L1 sets.
  if (!pointwise && plane_stride % 256 == 0) plane_stride += 16;
  const long long phase_stride = plane_stride * copies;
  const long long channel_stride = phase_stride * phases;
  // The last tile's farthest read: its last lane plus the largest offset.
  const long long need =
      pointwise ? 0 : channel_stride * in_c_ + tiles * T + dxq + T + copies;
  if (need > std::numeric_limits<int32_t>::max() ||
      tiles * ((out_c_ + ukernel_->group - 1) / ukernel_->group) >
          std::numeric_limits<int32_t>::max()) {
    *error = "input too large for 32-bit offsets";
    return false;
  }
  shape_ = s;
  pointwise_ = pointwise;
  hq_ = static_cast<int>(hq);
  wq_ = static_cast<int>(wq);
  phases_ = phases;
  copies_ = copies;
  plane_stride_ = static_cast<size_t>(plane_stride);
  phase_index_ = index;
  phase_stride_ = static_cast<size_t>(phase_stride);
  channel_stride_ = static_cast<size_t>(channel_stride);
  flat_ = static_cast<int>(flat);
  tiles_ = static_cast<int>(tiles);
  groups_ = (out_c_ + ukernel_->group - 1) / ukernel_->group;
  const bool local = LocalViews(s, pointwise, ukernel_->group, copies);
  const bool merge = wq % 16 == 0;
  std::vector<long long> keys;
  std::vector<int> tap_view;
  const int views = local ? TapViews(s, merge, &keys, &tap_view) : 0;
  const long long view_floats = T + (merge ? dyq * wq : 0);
  view_.clear();
  for (long long k : keys) {
    // Floats from a tile's start in X to the view's first position.
    const long long ph = index[k >> 40];
    view_.push_back(static_cast<int32_t>(
        ph * phase_stride + ((k >> 20) & 0xFFFFF) * wq + (k & 0xFFFFF)));
  }
  local_ = local;
  view_floats_ = static_cast<int>(view_floats);
  // Floats of one channel that a tile reads: its positions plus the reach
  // of the taps, in every phase read (local views: T per view).
  const long long span =
      pointwise ? T
      : local   ? views * view_floats
                : phases * copies * (T + dyq * wq + (copies > 1 ? 0 : dxq));
  const long long budget =
      local ? kLocalFloats : L1Floats(p.kernel_h * p.kernel_w);
  block_channels_ = static_cast<int>(
      std::max(1LL, std::min<long long>(in_c_, budget / span)));
  num_blocks_ = (in_c_ + block_channels_ - 1) / block_channels_;
  plan_ptr_.assign(static_cast<size_t>(num_blocks_) * out_c_ + 1, 0);
  plan_offset_.resize(nz_weight_.size());
  plan_weight_.resize(nz_weight_.size());
  std::vector<int32_t> next(nz_ptr_.begin(), nz_ptr_.end() - 1);
  size_t at = 0;
  for (int blk = 0; blk < num_blocks_; ++blk) {
    const int c0 = blk * block_channels_;
    const int c1 = std::min(in_c_, (blk + 1) * block_channels_);
    for (int n = 0; n < out_c_; ++n) {
      for (int32_t& k = next[n]; k < nz_ptr_[n + 1] && nz_channel_[k] < c1;
           ++k) {
        const int ky = nz_tap_[k] / p.kernel_w, kx = nz_tap_[k] % p.kernel_w;
        const long long dy = static_cast<long long>(ky) * p.dilation_h;
        const long long dx = static_cast<long long>(kx) * p.dilation_w;
        const int ph = index[(dy % sh) * sw + dx % sw];
        const long long q = dx / sw;
        const long long copy = copies > 1 ? q : 0;
        plan_offset_[at] = static_cast<int32_t>(
            local ? (static_cast<long long>(nz_channel_[k] - c0) * views +
                     tap_view[nz_tap_[k]]) *
                            view_floats +
                        (merge ? (dy / sh) * wq : 0)
                  : nz_channel_[k] * channel_stride + ph * phase_stride +
                        copy * plane_stride + (dy / sh) * wq + q - copy);
        plan_weight_[at] = nz_weight_[k];
        ++at;
      }
      plan_ptr_[static_cast<size_t>(blk) * out_c_ + n + 1] =
          static_cast<int32_t>(at);
    }
  }
  if (planar_.size() != static_cast<size_t>(need)) {
    planar_.Resize(static_cast<size_t>(need));  // Zero-filled.
  } else {
    std::fill(planar_.data(), planar_.data() + need, 0.0f);
  }
  reshaped_ = true;
  *out_h = s.out_h;
  *out_w = s.out_w;
  return true;
}

void F32ConvPixvec::Transpose(const float* x, int row_begin, int row_end) {
  const ConvShape& s = shape_;
  const int sh = s.stride_h, sw = s.stride_w;
  const size_t src_stride = static_cast<size_t>(sw) * s.in_c;
  float* X = planar_.data();
  for (int iy = row_begin; iy < row_end; ++iy) {
    const int r = iy + s.pad_top;
    const int a = r / sh, py = r % sh;
    if (a >= hq_) continue;
    for (int px = 0; px < sw; ++px) {
      const int ph = phase_index_[py * sw + px];
      if (ph < 0) continue;
      // Input columns ix = ix0 + j * sw land in column b0 + j of the phase.
      int ix0 = ((px - s.pad_left) % sw + sw) % sw;
      const int b0 = (ix0 + s.pad_left) / sw;
      if (ix0 >= s.in_w || b0 >= wq_) continue;
      const int n = std::min((s.in_w - ix0 + sw - 1) / sw, wq_ - b0);
      const float* src =
          x + (static_cast<size_t>(iy) * s.in_w + ix0) * s.in_c;
      float* dst = X + ph * phase_stride_ + static_cast<size_t>(a) * wq_ + b0;
      PackRows(src, src_stride, n, dst);
    }
  }
}

void F32ConvPixvec::PackRows(const float* src, size_t src_stride, int n,
                             float* dst) const {
  const int L = ukernel_->group;
  const int in_c = shape_.in_c;
  const ptrdiff_t copy_step = static_cast<ptrdiff_t>(plane_stride_) - 1;
  const int full_c = L > 1 ? in_c / L * L : 0;
  if (full_c > 0) {
    // Blocks of L pixels x L channels, the last block partial.
    for (int j = 0; j < n; j += L) {
      const float* sp = src + j * src_stride;
      const int pixels = std::min(L, n - j);
      for (int c = 0; c < full_c; c += L) {
        ukernel_->pack_fn(sp + c, src_stride, pixels,
                          dst + c * channel_stride_ + j, channel_stride_,
                          copies_, copy_step);
      }
    }
  }
  // Channels past the last full block one by one.
  if (full_c == in_c) return;
  for (int j = 0; j < n; ++j) {
    const float* sp = src + j * src_stride;
    for (int c = full_c; c < in_c; ++c) {
      for (int k = 0; k < copies_; ++k) {
        dst[c * channel_stride_ + k * copy_step + j] = sp[c];
      }
    }
  }
}


int F32ConvPixvec::AcquireSlot(int slots) {
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

void F32ConvPixvec::Compute(const float* x, float* y, int begin, int end,
                            float* acc, float* tile_x) const {
  const ConvShape& s = shape_;
  const int T = ukernel_->tile, G = ukernel_->group;
  F32PixvecTileArgs a;
  a.offset = plan_offset_.data();
  a.weight = plan_weight_.data();
  a.output_min = params_.output_min;
  a.output_max = params_.output_max;
  a.row_floats = wq_;
  a.out_w = s.out_w;
  a.out_c = static_cast<size_t>(s.out_c);
  a.prefetch_output = static_cast<long long>(s.out_h) * s.out_w * s.out_c *
                          static_cast<long long>(sizeof(float)) >
                      kPrefetchOutputBytes;
  const F32PixvecTileFn fn = ukernel_->tile_fn;
  for (int i = begin; i < end; ++i) {
    const int tile = i / splits_;
    const int g0 = (i % splits_) * split_groups_;
    const int g1 = std::min(groups_, g0 + split_groups_);
    const int o0 = tile * T;
    a.o0 = o0;
    a.positions = std::min(T, flat_ - o0);
    if (pointwise_) {
      // Positions past `positions` keep an earlier tile's values: junk
      // lanes, never stored.
      PackRows(x + static_cast<size_t>(o0) * s.in_c, s.in_c, a.positions,
               tile_x);
      a.x = tile_x;
    } else {
      a.x = planar_.data() + o0;
    }
    for (int blk = 0; blk < num_blocks_; ++blk) {
      if (local_) {
        const int c0 = blk * block_channels_;
        ukernel_->gather_fn(
            planar_.data() + o0 + c0 * channel_stride_, channel_stride_,
            view_.data(), static_cast<int>(view_.size()), view_floats_,
            std::min(block_channels_, s.in_c - c0), tile_x);
        a.x = tile_x;
      }
      a.first = blk == 0;
      a.last = blk == num_blocks_ - 1;
      for (int g = g0; g < g1; ++g) {
        const int n0 = g * G;
        a.nz = plan_ptr_.data() + static_cast<size_t>(blk) * s.out_c + n0;
        a.bias = bias_.data() + n0;
        a.channels = std::min(G, s.out_c - n0);
        a.y = y + n0;
        a.acc = acc + static_cast<size_t>(g - g0) * G * T;
        fn(a);
      }
    }
  }
}

void F32ConvPixvec::Run(const float* x, float* y, ThreadPool* pool) {
  const ConvShape& s = shape_;
  if (!reshaped_ || s.batch == 0) return;
  const int threads =
      std::min(pool != nullptr ? pool->num_threads() : 1, kMaxThreads);
  const size_t in_item = static_cast<size_t>(s.in_h) * s.in_w * s.in_c;
  const size_t out_item = static_cast<size_t>(s.out_h) * s.out_w * s.out_c;
  // Few tiles (7x7 outputs: one): the groups split too, so that every
  // thread has work.
  splits_ = tiles_ >= 2 * threads
                ? 1
                : std::min(groups_, (2 * threads + tiles_ - 1) / tiles_);
  split_groups_ = (groups_ + splits_ - 1) / splits_;
  const size_t acc_floats =
      num_blocks_ > 1 ? static_cast<size_t>(split_groups_) *
                            ukernel_->group * ukernel_->tile
                      : 1;
  const size_t tile_floats =
      pointwise_ ? static_cast<size_t>(s.in_c) * ukernel_->tile
      : local_   ? static_cast<size_t>(block_channels_) * view_.size() *
                     view_floats_
                 : 1;
  if (static_cast<int>(acc_.size()) < threads) acc_.resize(threads);
  if (static_cast<int>(tile_x_.size()) < threads) tile_x_.resize(threads);
  for (int t = 0; t < threads; ++t) {
    if (acc_[t].size() < acc_floats) acc_[t].Resize(acc_floats);
    if (tile_x_[t].size() < tile_floats) tile_x_[t].Resize(tile_floats);
  }
  const int items = tiles_ * splits_;
  for (int b = 0; b < s.batch; ++b) {
    const float* xn = x + b * in_item;
    float* yn = y + b * out_item;
    if (threads <= 1) {
      if (!pointwise_) Transpose(xn, 0, s.in_h);
      Compute(xn, yn, 0, items, acc_[0].data(), tile_x_[0].data());
      continue;
    }
    const int row_tasks = std::min(s.in_h, threads * 4);
    auto transpose = [&](int t) {
      Transpose(xn, static_cast<int>(static_cast<long long>(s.in_h) * t /
                                     row_tasks),
                static_cast<int>(static_cast<long long>(s.in_h) * (t + 1) /
                                 row_tasks));
    };
    if (!pointwise_) pool->Run(row_tasks, transpose);
    // Contiguous chunks of work items, each holding one of `threads`
    // accumulator slots while it runs.
    const int chunks = std::min(items, threads * 8);
    auto compute = [&](int t) {
      const int slot = AcquireSlot(threads);
      Compute(xn, yn,
              static_cast<int>(static_cast<long long>(items) * t / chunks),
              static_cast<int>(static_cast<long long>(items) * (t + 1) /
                               chunks),
              acc_[slot].data(), tile_x_[slot].data());
      slot_busy_[slot].store(false, std::memory_order_release);
    };
    pool->Run(chunks, compute);
  }
}

}  // namespace tf_sparse
