#include "cc/kernels/qs8_conv_pixvec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

#include "cc/kernels/dispatch.h"
#include "cc/util/cpu_features.h"

namespace tf_sparse {

const Qs8PixvecUkernel& SelectQs8PixvecUkernel(Isa isa, bool use_dot_product) {
  return SelectQs8Variant(isa, use_dot_product, GetCpuFeatures().avx512vnni,
                          TF_SPARSE_X86_ONLY(Qs8PixvecUkernelAvx512Vnni),
                          TF_SPARSE_X86_ONLY(Qs8PixvecUkernelAvx2),
                          TF_SPARSE_ARM_ONLY(Qs8PixvecUkernelNeon),
                          TF_SPARSE_ARM_ONLY(Qs8PixvecUkernelNeonDot),
                          &Qs8PixvecUkernelScalar)();
}

int64_t CountQs8PixvecGroups(const int8_t* weights, int out, int in) {
  if (weights == nullptr || out <= 0 || in <= 0) return 0;
  int64_t kept = 0;
  for (int o = 0; o < out; ++o) {
    const int8_t* row = weights + static_cast<size_t>(o) * in;
    for (int k = 0; k < in; k += 4) {
      const int end = std::min(in, k + 4);
      for (int j = k; j < end; ++j) {
        if (row[j] != 0) {
          ++kept;
          break;
        }
      }
    }
  }
  return kept;
}

std::unique_ptr<Qs8ConvPixvec> Qs8ConvPixvec::Create(
    const int8_t* weights, int out, int in, const int32_t* bias,
    const Qs8FcQuantization& quantization, const Options& options,
    std::string* error) {
  if (weights == nullptr) {
    *error = "weights must not be null";
    return nullptr;
  }
  if (out < 1 || in < 1) {
    *error = "out and in must be >= 1, got out " + std::to_string(out) +
             " in " + std::to_string(in);
    return nullptr;
  }
  if (options.stride_h < 1 || options.stride_w < 1) {
    *error = "stride_h and stride_w must be >= 1, got " +
             std::to_string(options.stride_h) + "x" +
             std::to_string(options.stride_w);
    return nullptr;
  }
  const int64_t groups = (static_cast<int64_t>(in) + 3) / 4;
  if (groups * out > std::numeric_limits<int32_t>::max()) {
    *error = "out * in too large for 32-bit group indices";
    return nullptr;
  }
  std::vector<QuantizedMultiplier> rows;
  std::string problem = ComputeFcMultipliers(quantization, out, &rows);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  // The int8 clamp is checked by ComputeFcMultipliers; only the ISA here.
  problem = CheckClampAndIsa(0.0f, 0.0f, options.isa, &isa);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  std::unique_ptr<Qs8ConvPixvec> op(new Qs8ConvPixvec());
  op->ukernel_ = &SelectQs8PixvecUkernel(isa, options.use_dot_product);
  op->out_ = out;
  op->in_ = in;
  op->groups_ = static_cast<int>(groups);
  op->stride_h_ = options.stride_h;
  op->stride_w_ = options.stride_w;
  try {
    std::vector<int32_t> row_sums(out), row_abs_sums(out);
    op->group_ptr_.assign(static_cast<size_t>(out) + 1, 0);
    op->group_.reserve(static_cast<size_t>(
        std::min<int64_t>(CountQs8PixvecGroups(weights, out, in),
                          groups * out)));
    op->weights_.reserve(op->group_.capacity());
    for (int o = 0; o < out; ++o) {
      const int8_t* row = weights + static_cast<size_t>(o) * in;
      int32_t sum = 0, abs_sum = 0;
      for (int g = 0; g < groups; ++g) {
        int8_t w[4] = {0, 0, 0, 0};
        bool kept = false;
        for (int j = 0; j < 4 && 4 * g + j < in; ++j) {
          w[j] = row[4 * g + j];
          kept = kept || w[j] != 0;
          sum += w[j];
          abs_sum += w[j] < 0 ? -w[j] : w[j];
        }
        if (!kept) continue;
        int32_t word;
        std::memcpy(&word, w, 4);
        op->group_.push_back(g);
        op->weights_.push_back(word);
      }
      row_sums[o] = sum;
      row_abs_sums[o] = abs_sum;
      op->group_ptr_[o + 1] = static_cast<int32_t>(op->group_.size());
    }
    op->run_.assign(out, 1);
    for (int o = out - 2; o >= 0; --o) {
      const int32_t b0 = op->group_ptr_[o], e0 = op->group_ptr_[o + 1];
      const int32_t e1 = op->group_ptr_[o + 2];
      if (e1 - e0 == e0 - b0 &&
          std::equal(op->group_.begin() + b0, op->group_.begin() + e0,
                     op->group_.begin() + e0)) {
        op->run_[o] = op->run_[o + 1] + 1;
      }
    }
    op->bias_.resize(out);
    op->multiplier_.resize(out);
    op->shift_.resize(out);
    problem = FoldQs8Bias(bias, out, row_sums.data(), row_abs_sums.data(),
                          quantization.input_zero_point,
                          op->ukernel_->input_offset, op->bias_.data());
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  }
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  op->fast_.resize(out);
  for (int o = 0; o < out; ++o) {
    op->multiplier_[o] = rows[o].multiplier;
    op->shift_[o] = rows[o].shift;
    op->fast_[o] = MakeFloatRequantization(rows[o]);
  }
  op->output_zero_point_ = quantization.output_zero_point;
  op->output_min_ = quantization.output_min;
  op->output_max_ = quantization.output_max;
  return op;
}

int64_t Qs8ConvPixvec::PackedBytes() const {
  return static_cast<int64_t>(group_.size() + weights_.size() +
                              group_ptr_.size() + bias_.size() +
                              multiplier_.size() + shift_.size()) *
         static_cast<int64_t>(sizeof(int32_t));
}

bool Qs8ConvPixvec::Reshape(int batch, int in_h, int in_w, int* out_h,
                            int* out_w, std::string* error) {
  if (batch < 0 || in_h < 1 || in_w < 1) {
    *error = "input must be [batch >= 0][h >= 1][w >= 1][in], got " +
             std::to_string(batch) + "x" + std::to_string(in_h) + "x" +
             std::to_string(in_w);
    return false;
  }
  const int64_t in_bytes =
      static_cast<int64_t>(batch) * in_h * in_w * static_cast<int64_t>(in_);
  if (in_bytes > std::numeric_limits<int32_t>::max()) {
    *error = "input of " + std::to_string(in_bytes) +
             " bytes too large for 32-bit pixel offsets (< 2^31)";
    return false;
  }
  const int oh = (in_h - 1) / stride_h_ + 1;
  const int ow = (in_w - 1) / stride_w_ + 1;
  const int64_t pixels = static_cast<int64_t>(batch) * oh * ow;
  const int lanes = ukernel_->lanes;
  // Largest tile whose X fits kTileBytes, no larger than the pixels need.
  int vectors = 4;
  while (vectors > 1 &&
         (static_cast<int64_t>(groups_) * lanes * vectors * 4 *
                  ukernel_->value_bytes > kTileBytes ||
          static_cast<int64_t>(lanes) * (vectors / 2) >= pixels)) {
    vectors /= 2;
  }
  const int tile = lanes * vectors;
  const int64_t tiles = (pixels + tile - 1) / tile;
  const int64_t group_bytes =
      static_cast<int64_t>(tile) * 4 * ukernel_->value_bytes;
  if (group_bytes * groups_ > std::numeric_limits<int32_t>::max()) {
    *error = "in too large for 32-bit offsets into the packed tile";
    return false;
  }
  try {
    // Input offset of every output pixel (NHWC order over the batch).
    pixel_offset_.resize(static_cast<size_t>(pixels));
    size_t at = 0;
    for (int n = 0; n < batch; ++n) {
      for (int oy = 0; oy < oh; ++oy) {
        for (int ox = 0; ox < ow; ++ox) {
          pixel_offset_[at++] = static_cast<int32_t>(
              ((static_cast<int64_t>(n) * in_h + static_cast<int64_t>(oy) *
                                                      stride_h_) *
                   in_w +
               static_cast<int64_t>(ox) * stride_w_) *
              in_);
        }
      }
    }
    offset_.resize(group_.size());
    for (size_t k = 0; k < group_.size(); ++k) {
      offset_[k] = static_cast<int32_t>(group_[k] * group_bytes);
    }
    const size_t x_bytes = static_cast<size_t>(groups_) * tile * 4 *
                           static_cast<size_t>(ukernel_->value_bytes);
    const size_t acc_values = static_cast<size_t>(ukernel_->group) * tile;
    for (size_t t = 0; t < x_.size(); ++t) {
      if (x_[t].size() < x_bytes) x_[t].Resize(x_bytes);
      if (acc_[t].size() < acc_values) acc_[t].Resize(acc_values);
    }
  } catch (const std::bad_alloc&) {
    *error = "out of memory for the tile scratch";
    return false;
  }
  in_h_ = in_h;
  in_w_ = in_w;
  out_h_ = oh;
  out_w_ = ow;
  pixels_ = pixels;
  tile_ = tile;
  tiles_ = static_cast<int>(tiles);
  reshaped_ = true;
  *out_h = oh;
  *out_w = ow;
  return true;
}

bool Qs8ConvPixvec::ReshapeRows(int rows, std::string* error) {
  if (stride_h_ != 1 || stride_w_ != 1) {
    *error = "a fully connected layer needs strides 1, the operator has " +
             std::to_string(stride_h_) + "x" + std::to_string(stride_w_);
    return false;
  }
  if (rows < 0) {
    *error = "rows must be >= 0, got " + std::to_string(rows);
    return false;
  }
  int out_h = 0, out_w = 0;
  if (rows == 0) {
    return Reshape(0, 1, 1, &out_h, &out_w, error);
  }
  return Reshape(1, 1, rows, &out_h, &out_w, error);
}

void Qs8ConvPixvec::Compute(const int8_t* x, int8_t* y, int begin, int end,
                            int t) {
  const Qs8PixvecUkernel& k = *ukernel_;
  int8_t* X = x_[t].data();
  Qs8PixvecTileArgs a;
  a.x = X;
  a.tile = static_cast<size_t>(tile_);
  a.y_stride = static_cast<size_t>(out_);
  a.output_zero_point = output_zero_point_;
  a.output_min = output_min_;
  a.output_max = output_max_;
  a.acc = acc_[t].data();
  int packed = -1;
  for (int i = begin; i < end; ++i) {
    const int tile = i / splits_;
    const int c0 = (i % splits_) * split_channels_;
    const int c1 = std::min(out_, c0 + split_channels_);
    if (c0 >= c1) continue;
    const int64_t q0 = static_cast<int64_t>(tile) * tile_;
    const int pixels = static_cast<int>(std::min<int64_t>(tile_, pixels_ - q0));
    if (tile != packed) {
      k.pack_fn(x, pixel_offset_.data() + q0, pixels, in_, a.tile, X);
      packed = tile;
    }
    a.group_ptr = group_ptr_.data() + c0;
    a.offset = offset_.data();
    a.weights = weights_.data();
    a.run = run_.data() + c0;
    a.bias = bias_.data() + c0;
    a.multiplier = multiplier_.data() + c0;
    a.shift = shift_.data() + c0;
    a.fast = fast_.data() + c0;
    a.channels = c1 - c0;
    a.pixels = pixels;
    a.y = y + q0 * out_ + c0;
    k.tile_fn(a);
  }
}

void Qs8ConvPixvec::Run(const int8_t* x, int8_t* y, ThreadPool* pool) {
  if (!reshaped_ || pixels_ == 0) return;
  const int threads = pool != nullptr ? pool->num_threads() : 1;
  const int group = ukernel_->group;
  const int blocks = (out_ + group - 1) / group;
  // Few tiles (7x7 outputs, a few rows): the channels split too, so that
  // every thread has work.
  splits_ = tiles_ >= 2 * threads
                ? 1
                : std::min(blocks, (2 * threads + tiles_ - 1) / tiles_);
  split_channels_ = (blocks + splits_ - 1) / splits_ * group;
  const int items = tiles_ * splits_;
  const int tasks = std::min(threads, items);
  const size_t x_bytes = static_cast<size_t>(groups_) * tile_ * 4 *
                         static_cast<size_t>(ukernel_->value_bytes);
  const size_t acc_values = static_cast<size_t>(group) * tile_;
  if (static_cast<int>(x_.size()) < tasks) {
    x_.resize(tasks);
    acc_.resize(tasks);
  }
  for (int t = 0; t < tasks; ++t) {
    if (x_[t].size() < x_bytes) x_[t].Resize(x_bytes);
    if (acc_[t].size() < acc_values) acc_[t].Resize(acc_values);
  }
  if (tasks <= 1) {
    Compute(x, y, 0, items, 0);
    return;
  }
  auto compute = [&](int t) {
    Compute(x, y,
            static_cast<int>(static_cast<int64_t>(items) * t / tasks),
            static_cast<int>(static_cast<int64_t>(items) * (t + 1) / tasks),
            t);
  };
  pool->Run(tasks, compute);
}

}  // namespace tf_sparse
