#include "delegate/node_util.h"

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <new>

#include "delegate/tflite_sparsity.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

bool IntArrayContains(const TfLiteIntArray* a, int v) {
  if (a == nullptr) return false;
  for (int i = 0; i < a->size; ++i) {
    if (a->data[i] == v) return true;
  }
  return false;
}

std::vector<int> TensorDims(const TfLiteTensor& t) {
  std::vector<int> dims;
  if (t.dims != nullptr) dims.assign(t.dims->data, t.dims->data + t.dims->size);
  return dims;
}

bool IsConstFloat(const TfLiteTensor& t) {
  return t.type == kTfLiteFloat32 && t.allocation_type == kTfLiteMmapRo &&
         t.data != nullptr;
}

std::string Fmt(const char* format, double a, double b) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), format, a, b);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string ActivationClamp(int activation, float* output_min,
                            float* output_max) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (activation) {
    case kTfLiteActNone:
      *output_min = -kInf;
      *output_max = kInf;
      return "";
    case kTfLiteActRelu:
      *output_min = 0.0f;
      *output_max = kInf;
      return "";
    case kTfLiteActReluN1To1:
      *output_min = -1.0f;
      *output_max = 1.0f;
      return "";
    case kTfLiteActRelu6:
      *output_min = 0.0f;
      *output_max = 6.0f;
      return "";
    default:
      return "fused activation " + std::to_string(activation) +
             " is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)";
  }
}

double InterpolateLog2(const Log2Point* points, int n, double x) {
  if (x <= points[0].x) return points[0].y;
  for (int i = 1; i < n; ++i) {
    if (x <= points[i].x) {
      const Log2Point& lo = points[i - 1];
      const Log2Point& hi = points[i];
      const double t = std::log2(x / lo.x) / std::log2(hi.x / lo.x);
      return lo.y + t * (hi.y - lo.y);
    }
  }
  return points[n - 1].y;
}

std::string ReadConvGeometry(int stride_h, int stride_w, TfLitePadding padding,
                             int activation, int* out_stride_h,
                             int* out_stride_w, ConvPadding* out_padding,
                             float* output_min, float* output_max) {
  if (stride_w < 1 || stride_h < 1) return "stride below 1";
  *out_stride_h = stride_h;
  *out_stride_w = stride_w;
  switch (padding) {
    case kTfLitePaddingSame:
      *out_padding = ConvPadding::kSame;
      break;
    case kTfLitePaddingValid:
      *out_padding = ConvPadding::kValid;
      break;
    default:
      return "unknown padding " + std::to_string(padding);
  }
  return ActivationClamp(activation, output_min, output_max);
}

std::string ReadNodeTensors(const TfLiteContext* context,
                            const TfLiteNode* node, NodeTensors* tensors,
                            bool allow_int8) {
  const int num_tensors = static_cast<int>(context->tensors_size);
  auto valid = [&](int t) { return t >= 0 && t < num_tensors; };
  if (node->inputs == nullptr || node->outputs == nullptr) {
    return "node has no input or output list";
  }
  if (node->inputs->size < 2 || node->inputs->size > 3) {
    return "expected 2 or 3 inputs, got " + std::to_string(node->inputs->size);
  }
  if (node->outputs->size != 1) {
    return "expected 1 output, got " + std::to_string(node->outputs->size);
  }
  tensors->input = node->inputs->data[0];
  tensors->weights = node->inputs->data[1];
  tensors->bias =
      node->inputs->size == 3 ? node->inputs->data[2] : kTfLiteOptionalTensor;
  tensors->output = node->outputs->data[0];
  if (!valid(tensors->input) || !valid(tensors->weights) ||
      !valid(tensors->output) ||
      (tensors->bias != kTfLiteOptionalTensor && !valid(tensors->bias))) {
    return "tensor index out of range";
  }
  const int in_type = context->tensors[tensors->input].type;
  const int out_type = context->tensors[tensors->output].type;
  if (in_type == kTfLiteFloat32 && out_type == kTfLiteFloat32) return "";
  if (allow_int8 && in_type == kTfLiteInt8 && out_type == kTfLiteInt8) {
    return "";
  }
  return allow_int8 ? "input and output are not both float32 or both int8"
                    : "input or output is not float32";
}

namespace {

// The affine parameters of `t`, or null (with *error) when it has none.
const TfLiteAffineQuantization* Affine(const TfLiteTensor& t, const char* name,
                                       std::string* error) {
  const auto* a =
      t.quantization.type == kTfLiteAffineQuantization
          ? static_cast<const TfLiteAffineQuantization*>(t.quantization.params)
          : nullptr;
  if (a == nullptr || a->scale == nullptr || a->zero_point == nullptr ||
      a->scale->size < 1 || a->zero_point->size != a->scale->size) {
    *error = std::string(name) + " has no affine quantization";
    return nullptr;
  }
  return a;
}

// One scale and zero point (an activation tensor).
std::string PerTensor(const TfLiteTensor& t, const char* name, float* scale,
                      int32_t* zero_point) {
  std::string error;
  const TfLiteAffineQuantization* a = Affine(t, name, &error);
  if (a == nullptr) return error;
  if (a->scale->size != 1) {
    return std::string(name) + " is quantized per channel (only per tensor "
                               "is supported)";
  }
  *scale = a->scale->data[0];
  *zero_point = a->zero_point->data[0];
  if (!(*scale > 0.0f) || !std::isfinite(*scale)) {
    return std::string(name) + " scale is not a positive finite number";
  }
  if (*zero_point < -128 || *zero_point > 127) {
    return std::string(name) + " zero point is outside [-128, 127]";
  }
  return "";
}

}  // namespace

double KernelVariantFactor(const char* kernel, const char* fitted,
                           double other, double scalar) {
  const std::string name = kernel;
  if (name.find(fitted) != std::string::npos) return 1.0;
  return name.find("scalar") != std::string::npos ? scalar : other;
}

Qs8FcQuantization KernelQuantization(const Qs8NodeQuantization& q) {
  Qs8FcQuantization k;
  k.input_scale = q.input_scale;
  k.input_zero_point = q.input_zero_point;
  k.filter_scales = q.filter_scales.data();
  k.num_filter_scales = static_cast<int>(q.filter_scales.size());
  k.output_scale = q.output_scale;
  k.output_zero_point = q.output_zero_point;
  k.output_min = q.output_min;
  k.output_max = q.output_max;
  return k;
}

std::string ReadQs8Quantization(const TfLiteContext* context,
                                const WeightedNodeInfo& info, int channel_dim,
                                int channels, int activation,
                                Qs8NodeQuantization* q) {
  std::string problem = PerTensor(context->tensors[info.input], "input",
                                  &q->input_scale, &q->input_zero_point);
  if (!problem.empty()) return problem;
  problem = PerTensor(context->tensors[info.output], "output",
                      &q->output_scale, &q->output_zero_point);
  if (!problem.empty()) return problem;
  // Behind DENSIFY the sparse constant carries the weights' quantization.
  const TfLiteTensor& w = context->tensors[info.densify_input >= 0
                                               ? info.densify_input
                                               : info.weights];
  const TfLiteAffineQuantization* a = Affine(w, "weights", &problem);
  if (a == nullptr) return problem;
  const int n = a->scale->size;
  if (n != 1 && (n != channels || a->quantized_dimension != channel_dim)) {
    return "weights have " + std::to_string(n) + " scales along dimension " +
           std::to_string(a->quantized_dimension) + " (expected 1, or " +
           std::to_string(channels) + " along dimension " +
           std::to_string(channel_dim) + ")";
  }
  q->filter_scales.assign(a->scale->data, a->scale->data + n);
  for (int i = 0; i < n; ++i) {
    if (a->zero_point->data[i] != 0) {
      return "weights are not symmetric (a zero point is not 0)";
    }
    if (!(q->filter_scales[i] > 0.0f) || !std::isfinite(q->filter_scales[i])) {
      return "a weight scale is not a positive finite number";
    }
  }
  if (info.bias >= 0) {
    const TfLiteTensor& bias = context->tensors[info.bias];
    if (bias.type != kTfLiteInt32 || bias.allocation_type != kTfLiteMmapRo ||
        bias.data == nullptr) {
      return "bias is not a constant int32 tensor";
    }
    if (bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != channels ||
        bias.bytes != static_cast<size_t>(channels) * 4) {
      return "bias shape is not [" + std::to_string(channels) + "]";
    }
  }
  FusedActivation act;
  switch (activation) {
    case kTfLiteActNone:
      act = FusedActivation::kNone;
      break;
    case kTfLiteActRelu:
      act = FusedActivation::kRelu;
      break;
    case kTfLiteActReluN1To1:
      act = FusedActivation::kReluN1To1;
      break;
    case kTfLiteActRelu6:
      act = FusedActivation::kRelu6;
      break;
    default:
      return "fused activation " + std::to_string(activation) +
             " is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)";
  }
  return Int8ActivationRange(act, q->output_scale, q->output_zero_point,
                             &q->output_min, &q->output_max);
}

std::string ReadWeightedNode(const TfLiteContext* context,
                             const TfLiteNode* node,
                             const DensifySource* densify,
                             WeightedNodeInfo* info, bool allow_int8) {
  NodeTensors t;
  std::string problem = ReadNodeTensors(context, node, &t, allow_int8);
  if (!problem.empty()) return problem;
  info->int8 = context->tensors[t.input].type == kTfLiteInt8;
  // Hybrid nodes (float activations, int8 weights) are not run.
  if (context->tensors[t.weights].type !=
      (info->int8 ? kTfLiteInt8 : kTfLiteFloat32)) {
    return info->int8 ? "weights are not int8" : "weights are not float32";
  }
  info->input = t.input;
  info->weights = t.weights;
  info->bias = t.bias;
  info->output = t.output;
  if (densify == nullptr || densify->node < 0) return "";
  problem = CheckDensifiedWeights(context, info->weights, *densify);
  if (!problem.empty()) return problem;
  info->densify_node = densify->node;
  info->densify_input = densify->input;
  return "";
}

std::string CheckDensifiedWeights(const TfLiteContext* context, int weights,
                                  const DensifySource& source) {
  const int num_tensors = static_cast<int>(context->tensors_size);
  if (source.input < 0 || source.input >= num_tensors) {
    return "DENSIFY input out of range";
  }
  const TfLiteTensor& sparse = context->tensors[source.input];
  const TfLiteTensor& dense = context->tensors[weights];
  if (sparse.sparsity == nullptr ||
      (sparse.type != kTfLiteFloat32 && sparse.type != kTfLiteInt8) ||
      sparse.allocation_type != kTfLiteMmapRo || sparse.data == nullptr) {
    return "DENSIFY input is not a constant sparse float32 or int8 tensor";
  }
  if (dense.type != sparse.type) {
    return "DENSIFY output type differs from its input's";
  }
  TfLiteSparseLayout layout;
  const std::string problem = ReadTfLiteSparsity(sparse, &layout);
  if (!problem.empty()) return "TFLite sparse encoding: " + problem;
  if (layout.dims != TensorDims(dense)) {
    return "DENSIFY output shape differs from its input's dense shape";
  }
  return "";
}

const float* DenseWeights(const TfLiteContext* context, int weights,
                          int densify_input, std::vector<float>* storage,
                          std::string* error) {
  if (densify_input < 0) {
    return static_cast<const float*>(context->tensors[weights].data);
  }
  try {
    *error = DecodeTfLiteSparsityToDense(context->tensors[densify_input],
                                         storage);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while decoding the sparse encoding";
  }
  if (!error->empty()) return nullptr;
  return storage->data();
}

const int8_t* DenseInt8Weights(const TfLiteContext* context, int weights,
                               int densify_input, std::vector<int8_t>* storage,
                               std::string* error) {
  const TfLiteTensor& t =
      context->tensors[densify_input >= 0 ? densify_input : weights];
  if (densify_input < 0 && t.sparsity == nullptr) {
    return static_cast<const int8_t*>(t.data);
  }
  try {
    *error = DecodeTfLiteSparsityToDense(t, storage);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while decoding the sparse encoding";
  }
  if (!error->empty()) return nullptr;
  return storage->data();
}

bool GraphOutputs(TfLiteContext* context, const std::vector<int>& plan,
                  std::set<int>* outputs) {
  if (context->PreviewDelegatePartitioning == nullptr || plan.empty()) {
    return false;
  }
  TfLiteIntArray* nodes = NewIntArray(plan.data(), static_cast<int>(plan.size()));
  if (nodes == nullptr) return false;
  TfLiteDelegateParams* partitions = nullptr;
  int count = 0;
  const TfLiteStatus status = context->PreviewDelegatePartitioning(
      context, nodes, &partitions, &count);
  std::free(nodes);
  if (status != kTfLiteOk || (count > 0 && partitions == nullptr)) {
    return false;
  }
  // Normally one partition. Were there several, their outputs would include
  // tensors passed between them too: a superset, which only makes the
  // caller more careful.
  for (int p = 0; p < count; ++p) {
    const TfLiteIntArray* out = partitions[p].output_tensors;
    if (out == nullptr) return false;
    for (int i = 0; i < out->size; ++i) outputs->insert(out->data[i]);
  }
  return true;
}

namespace {

// One spatial dimension as TFLite's ComputeOutSize has it (64-bit here, so
// that no size can overflow).
long long StockOutSize(ConvPadding padding, long long in, int kernel,
                       int stride, int dilation) {
  const long long extent = static_cast<long long>(kernel - 1) * dilation + 1;
  return padding == ConvPadding::kSame ? (in + stride - 1) / stride
                                       : (in + stride - extent) / stride;
}

}  // namespace

std::string StockConvOutputDims(const std::vector<int>& in_dims,
                                ConvPadding padding, int kernel_h,
                                int kernel_w, int stride_h, int stride_w,
                                int dilation_h, int dilation_w, int channels,
                                std::vector<int>* out_dims) {
  if (in_dims.size() != 4) {
    return "input has rank " + std::to_string(in_dims.size()) +
           ", expected 4 (NHWC)";
  }
  for (int d : in_dims) {
    if (d < 0) return "input has a negative dimension";
  }
  if (in_dims[1] < 1 || in_dims[2] < 1) {
    return "input " + std::to_string(in_dims[1]) + "x" +
           std::to_string(in_dims[2]) +
           " has no pixels (height and width must be at least 1)";
  }
  const long long out_h =
      StockOutSize(padding, in_dims[1], kernel_h, stride_h, dilation_h);
  const long long out_w =
      StockOutSize(padding, in_dims[2], kernel_w, stride_w, dilation_w);
  if (out_h < 0 || out_w < 0) {
    return "input " + std::to_string(in_dims[1]) + "x" +
           std::to_string(in_dims[2]) + " is smaller than the " +
           std::to_string(kernel_h) + "x" + std::to_string(kernel_w) +
           " kernel with VALID padding (negative output size)";
  }
  *out_dims = {in_dims[0], static_cast<int>(out_h), static_cast<int>(out_w),
               channels};
  return "";
}

namespace {

std::string OpName(int builtin_code) {
  switch (builtin_code) {
    case kTfLiteBuiltinFullyConnected:
      return "FULLY_CONNECTED";
    case kTfLiteBuiltinConv2d:
      return "CONV_2D";
    case kTfLiteBuiltinDepthwiseConv2d:
      return "DEPTHWISE_CONV_2D";
    case kTfLiteBuiltinDensify:
      return "DENSIFY";
    default:
      return "builtin op " + std::to_string(builtin_code);
  }
}

// A tensor name fit for a message: printable ASCII, at most 64 characters.
std::string SafeName(const char* name) {
  if (name == nullptr) return "";
  std::string out;
  for (int i = 0; name[i] != '\0' && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  return out;
}

// The forms TFLite's FULLY_CONNECTED kernels read weights in; they check
// no more than the first two levels' formats themselves.
std::string CheckFcSparseForm(const TfLiteTensor& t) {
  const TfLiteSparsity& sp = *t.sparsity;
  if (t.dims->size != 2) return "sparse weights are not 2-D";
  const int levels = sp.dim_metadata_size;
  for (int i = 0; i < levels; ++i) {
    if (sp.traversal_order->data[i] != i) {
      return "FULLY_CONNECTED reads sparse weights in row-major order only "
             "(traversal_order must be the identity)";
    }
  }
  if (sp.dim_metadata[0].format != kTfLiteDimDense ||
      sp.dim_metadata[1].format != kTfLiteDimSparseCSR) {
    return "FULLY_CONNECTED reads sparse weights as DENSE rows of "
           "SPARSE_CSR columns only";
  }
  if (levels == 2) return "";
  const int block = sp.dim_metadata[2].dense_size;
  if (levels == 3 && sp.block_map->data[0] == 1 && (block == 4 || block == 16)) {
    return "";
  }
  return "FULLY_CONNECTED reads sparse weights without blocks or in 1x4 or "
         "1x16 blocks only";
}

}  // namespace

std::string CheckSparseTensors(TfLiteContext* context,
                               const std::vector<int>& plan) {
  const int num_tensors = static_cast<int>(context->tensors_size);
  for (const int node_index : plan) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) !=
            kTfLiteOk ||
        node == nullptr || reg == nullptr || node->inputs == nullptr) {
      continue;
    }
    const int op = reg->builtin_code;
    if (op == kTfLiteBuiltinDelegate) continue;
    for (int j = 0; j < node->inputs->size; ++j) {
      const int ti = node->inputs->data[j];
      if (ti < 0 || ti >= num_tensors) continue;
      const TfLiteTensor& t = context->tensors[ti];
      if (t.sparsity == nullptr) continue;
      std::string problem = ValidateTfLiteSparsity(t);
      if (problem.empty() && t.allocation_type != kTfLiteMmapRo) {
        problem = "a sparse-encoded tensor must be constant";
      }
      if (problem.empty()) {
        if (op == kTfLiteBuiltinFullyConnected && j == 1) {
          problem = CheckFcSparseForm(t);
        } else if (op != kTfLiteBuiltinDensify || j != 0) {
          problem = "the node reads it as a dense tensor (only DENSIFY "
                    "input 0 and FULLY_CONNECTED weights decode TFLite's "
                    "sparse encoding)";
        }
      }
      if (problem.empty()) continue;
      return "tf_sparse: corrupt sparse tensor: node " +
             std::to_string(node_index) + " (" + OpName(op) + ") input " +
             std::to_string(j) + " is tensor " + std::to_string(ti) + " '" +
             SafeName(t.name) + "': " + problem +
             ". The delegate refuses the model (delegate option "
             "corrupt_sparsity=decline leaves such nodes to TFLite, whose own "
             "decoder does not check them)";
    }
  }
  return "";
}

std::string KernelOutputMismatch(int out_h, int out_w,
                                 const std::vector<int>& stock_dims) {
  if (out_h == stock_dims[1] && out_w == stock_dims[2]) return "";
  return "kernel output " + std::to_string(out_h) + "x" +
         std::to_string(out_w) + " differs from TFLite's " +
         std::to_string(stock_dims[1]) + "x" + std::to_string(stock_dims[2]);
}

}  // namespace tf_sparse
