// Helpers shared by the node analyses (fc_analysis, conv_analysis) and the
// delegate: reading a node's tensors, its fused activation, weights stored
// behind a DENSIFY op, and the small text/JSON formatting of the report.
#ifndef TF_SPARSE_DELEGATE_NODE_UTIL_H_
#define TF_SPARSE_DELEGATE_NODE_UTIL_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv_reference.h"  // ConvPadding.
#include "cc/kernels/requantize.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

bool IntArrayContains(const tflite_abi::TfLiteIntArray* a, int v);

// The tensor's dims (empty when it has none).
std::vector<int> TensorDims(const tflite_abi::TfLiteTensor& t);

// Constant (kTfLiteMmapRo) float32 data.
bool IsConstFloat(const tflite_abi::TfLiteTensor& t);

// snprintf with two doubles, for decision reasons.
std::string Fmt(const char* format, double a, double b);

// A JSON string literal (quoted, escaped) and a JSON number (null when not
// finite).
std::string JsonString(const std::string& s);
std::string JsonNumber(double v);

// TFLite's fused activation `activation` (TfLiteFusedActivation) as an
// output clamp. Returns an empty string, or why it is not supported (only
// NONE, RELU, RELU_N1_TO_1 and RELU6 are).
std::string ActivationClamp(int activation, float* output_min,
                            float* output_max);

// A measured point of a cost model: value y at size x (> 0).
struct Log2Point {
  double x, y;
};
// y at x, interpolated linearly in log2(x) between the points (ascending
// x); the ends are held.
double InterpolateLog2(const Log2Point* points, int n, double x);
template <int N>
double InterpolateLog2(const Log2Point (&points)[N], double x) {
  return InterpolateLog2(points, N, x);
}

// Strides (both >= 1), padding (SAME or VALID) and fused activation of a
// CONV_2D or DEPTHWISE_CONV_2D node's parameters, as the kernels take them.
// Returns an empty string, or what is not supported.
std::string ReadConvGeometry(int stride_h, int stride_w,
                             tflite_abi::TfLitePadding padding, int activation,
                             int* out_stride_h, int* out_stride_w,
                             ConvPadding* out_padding, float* output_min,
                             float* output_max);

// The tensors of a node with inputs {input, weights[, bias]} and one output,
// as FULLY_CONNECTED and CONV_2D have them. bias is kTfLiteOptionalTensor
// when absent.
struct NodeTensors {
  int input = -1;
  int weights = -1;
  int bias = -1;
  int output = -1;
};

// Reads those indices and checks their count and range, and that input and
// output are both float32 (or, with allow_int8, both int8). Returns an empty
// string or what is wrong.
std::string ReadNodeTensors(const tflite_abi::TfLiteContext* context,
                            const tflite_abi::TfLiteNode* node,
                            NodeTensors* tensors, bool allow_int8 = false);

// The quantization of a full-integer int8 node (TFLite's int8 FULLY_CONNECTED,
// CONV_2D): int8 input and output with one scale and zero point each, int8
// weights symmetric (every zero point 0) with one scale per tensor or per
// output channel, int32 bias of input_scale * filter_scale.
struct Qs8NodeQuantization {
  float input_scale = 0.0f;
  int32_t input_zero_point = 0;
  float output_scale = 0.0f;
  int32_t output_zero_point = 0;
  std::vector<float> filter_scales;  // 1 (per tensor) or `channels` entries.
  int32_t output_min = -128;  // The fused activation, quantized.
  int32_t output_max = 127;
};


// Weights produced by a DENSIFY node that the delegate takes over together
// with their consumer. With Optimize.EXPERIMENTAL_SPARSITY the converter
// stores such weights as a constant tensor in TFLite's sparse encoding
// (delegate/tflite_sparsity.h) and inserts DENSIFY in front of the
// consumer; the delegate reads the encoding at init and the DENSIFY output
// (internal to the partition, so without memory) is never read.
struct DensifySource {
  int node = -1;   // The DENSIFY node; -1: weights are a plain tensor.
  int input = -1;  // Its constant sparse input tensor.
};

// What FULLY_CONNECTED and CONV_2D nodes share, read from the graph.
struct WeightedNodeInfo {
  int input = -1;  // Tensor indices; bias is -1 when absent.
  int weights = -1;
  int bias = -1;
  int output = -1;
  // Weights produced by DENSIFY node densify_node from the constant sparse
  // tensor densify_input (both -1 when the weights are a plain tensor).
  int densify_node = -1;
  int densify_input = -1;
  // Whether the delegate took densify_node over as well (else the runtime
  // keeps running it, and the dense copy it makes is never read by us).
  bool densify_claimed = false;
  float output_min = 0.0f;  // The fused activation as a clamp (float).
  float output_max = 0.0f;
  // Full-integer int8 node (input, weights and output int8, bias int32):
  // then qs8 holds its quantization and output_min/max are unused.
  bool int8 = false;
  Qs8NodeQuantization qs8;
};

// Reads and checks the int8 quantization of node `info` (ReadWeightedNode
// with allow_int8 found int8 input and output): the weights (or, behind
// DENSIFY, its sparse input) carry per-tensor or per-channel scales along
// `channel_dim` (of size `channels`) with zero points 0; the bias, if any, is
// a constant int32 vector of `channels`; `activation` (TfLiteFusedActivation)
// is NONE, RELU, RELU_N1_TO_1 or RELU6. Returns an empty string or what is
// not supported.
// How much slower the int8 kernel variant named `kernel` runs than the one
// its cost model was fitted on: 1 when the name carries `fitted` (e.g.
// "avx512vnni"), `scalar` for the scalar variant, `other` for the rest
// (AVX2; NEON, unmeasured on its hardware, is taken as AVX2).
double KernelVariantFactor(const char* kernel, const char* fitted,
                           double other, double scalar);

// The kernels' form of `q` (points into q.filter_scales: keep q alive).
Qs8FcQuantization KernelQuantization(const Qs8NodeQuantization& q);

std::string ReadQs8Quantization(const tflite_abi::TfLiteContext* context,
                                const WeightedNodeInfo& info, int channel_dim,
                                int channels, int activation,
                                Qs8NodeQuantization* q);

// ReadNodeTensors into *info and, when `densify` names a DENSIFY node,
// CheckDensifiedWeights and the densify fields. Returns an empty string or
// what is wrong.
// With allow_int8, int8 input and output are accepted too (info->int8 set;
// the caller reads the quantization with ReadQs8Quantization).
std::string ReadWeightedNode(const tflite_abi::TfLiteContext* context,
                             const tflite_abi::TfLiteNode* node,
                             const DensifySource* densify,
                             WeightedNodeInfo* info, bool allow_int8 = false);

// Checks that `source`'s input is a constant float32 (or int8) tensor with
// a valid TfLiteSparsity whose dense shape and type are the DENSIFY output
// `weights`'s.
// Returns an empty string or what is wrong.
std::string CheckDensifiedWeights(const tflite_abi::TfLiteContext* context,
                                  int weights, const DensifySource& source);

// The graph's output tensors, from a preview of partitioning the whole
// execution plan `plan` (one partition whose outputs are exactly what the
// graph exposes). False when the runtime offers no preview.
bool GraphOutputs(tflite_abi::TfLiteContext* context,
                  const std::vector<int>& plan, std::set<int>* outputs);

// The dense float weights of a node: tensor `weights`'s data, or when
// `densify_input` >= 0 that tensor's sparse encoding decoded into *storage.
// Null and *error on failure.
const float* DenseWeights(const tflite_abi::TfLiteContext* context,
                          int weights, int densify_input,
                          std::vector<float>* storage, std::string* error);
// The same for int8 weights.
const int8_t* DenseInt8Weights(const tflite_abi::TfLiteContext* context,
                               int weights, int densify_input,
                               std::vector<int8_t>* storage,
                               std::string* error);

// The output shape {batch, out_h, out_w, channels} that TFLite's own CONV_2D
// and DEPTHWISE_CONV_2D kernels give an NHWC input `in_dims` (its
// ComputeOutSize, integer division truncating toward zero). A spatial size
// may come out 0, e.g. a VALID 3x3 kernel on a 2x2 input: the stock kernels
// accept that empty output and run nothing, and so must the delegate's (a
// batch of 0 too). Returns an empty string, or what is wrong: a rank other
// than 4, a negative dimension, an input of height or width 0 (LiteRT's
// kernels refuse it; tf.lite 2.21's DEPTHWISE_CONV_2D still runs it), or a
// negative output size (which the stock kernels refuse at prepare too).
std::string StockConvOutputDims(const std::vector<int>& in_dims,
                                ConvPadding padding, int kernel_h,
                                int kernel_w, int stride_h, int stride_w,
                                int dilation_h, int dilation_w, int channels,
                                std::vector<int>* out_dims);

// Empty when a kernel's spatial output size out_h x out_w is the one TFLite
// computed (`stock_dims`, NHWC); else the message saying both.
std::string KernelOutputMismatch(int out_h, int out_w,
                                 const std::vector<int>& stock_dims);

// Validates every sparse-encoded tensor (one with TfLiteSparsity) that a node
// of `plan` reads, before anything decodes it: the whole encoding
// (ValidateTfLiteSparsity), that the tensor is constant, and that its reader
// decodes such tensors the way they are stored: DENSIFY (input 0, any valid
// encoding) or FULLY_CONNECTED (weights in the forms TFLite's sparse kernels
// read: identity traversal order, DENSE rows, SPARSE_CSR columns, and no
// block or 1x4 / 1x16 blocks along the columns). Any other reader would take
// the packed values for a dense tensor. Returns an empty string, or a
// message naming the first offending node, its op, the tensor and what is
// wrong. Nodes already delegated (DELEGATE) are skipped.
std::string CheckSparseTensors(tflite_abi::TfLiteContext* context,
                               const std::vector<int>& plan);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_NODE_UTIL_H_
