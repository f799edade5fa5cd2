// The part of TensorFlow Lite's C ABI this delegate uses, declared here
// because no installable package ships TFLite's C headers.
//
// Field order and enum values follow TensorFlow's
// tensorflow/lite/core/c/common.h, c_api_types.h, builtin_op_data.h and
// builtin_ops.h as of TF 2.21 / LiteRT 2.3. TFLite only ever appends fields
// to these structs, so a prefix of a runtime-allocated struct is enough,
// with two exceptions:
//  - TfLiteTensor: the runtime hands out an ARRAY of tensors, so its size
//    must be exact (the static_asserts below pin it).
//  - Structs the delegate allocates and the runtime reads (TfLiteDelegate,
//    TfLiteRegistration, the latter passed BY VALUE): the delegate passes the
//    full current layout followed by zeroed padding, so a runtime that reads
//    a few more trailing fields finds zeros (null/false) there.
// Only valid for 64-bit, non-Windows targets (asserted below); there is no
// version handshake, so CheckTensorArray() double-checks the tensor stride at
// run time.
#ifndef TF_SPARSE_DELEGATE_TFLITE_ABI_H_
#define TF_SPARSE_DELEGATE_TFLITE_ABI_H_

#include <cstddef>
#include <cstdint>

#if defined(_WIN32) || !defined(__LP64__)
#error "tf_sparse's TFLite ABI declarations cover 64-bit non-Windows targets only"
#endif

namespace tf_sparse {
namespace tflite_abi {

// ---- Enums (C enums are 4-byte ints). ----

enum TfLiteStatus : int {
  kTfLiteOk = 0,
  kTfLiteError = 1,
  kTfLiteDelegateError = 2,
};

enum TfLiteType : int {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
  kTfLiteInt32 = 2,
  kTfLiteUInt8 = 3,
  kTfLiteInt64 = 4,
  kTfLiteString = 5,
  kTfLiteBool = 6,
  kTfLiteInt16 = 7,
  kTfLiteComplex64 = 8,
  kTfLiteInt8 = 9,
  kTfLiteFloat16 = 10,
};
// Largest TfLiteType value any runtime of this generation uses; a sanity
// bound for CheckTensorArray, not a list.
constexpr int kMaxPlausibleTfLiteType = 64;

enum TfLiteAllocationType : int {
  kTfLiteMemNone = 0,
  kTfLiteMmapRo = 1,  // Read-only, memory-mapped from the model: constants.
  kTfLiteArenaRw = 2,
  kTfLiteArenaRwPersistent = 3,
  kTfLiteDynamic = 4,
  kTfLitePersistentRo = 5,
  kTfLiteCustom = 6,
  kTfLiteVariantObject = 7,
  kTfLiteNonCpu = 8,
};
constexpr int kMaxPlausibleAllocationType = 16;

// builtin_ops.h
enum TfLiteBuiltinOperator : int {
  kTfLiteBuiltinConv2d = 3,
  kTfLiteBuiltinDepthwiseConv2d = 4,
  kTfLiteBuiltinFullyConnected = 9,
  kTfLiteBuiltinReshape = 22,
  kTfLiteBuiltinUnidirectionalSequenceLstm = 44,
  kTfLiteBuiltinDelegate = 51,
  kTfLiteBuiltinDensify = 124,
  kTfLiteBuiltinBatchMatmul = 126,
};

// builtin_op_data.h
enum TfLiteFusedActivation : int {
  kTfLiteActNone = 0,
  kTfLiteActRelu = 1,
  kTfLiteActReluN1To1 = 2,
  kTfLiteActRelu6 = 3,
  kTfLiteActTanh = 4,
  kTfLiteActSignBit = 5,
  kTfLiteActSigmoid = 6,
};

enum TfLitePadding : int {
  kTfLitePaddingUnknown = 0,
  kTfLitePaddingSame = 1,
  kTfLitePaddingValid = 2,
};

enum TfLiteFullyConnectedWeightsFormat : int {
  kTfLiteFullyConnectedWeightsFormatDefault = 0,
  kTfLiteFullyConnectedWeightsFormatShuffled4x16Int8 = 1,
};

enum TfLiteDimensionType : int {
  kTfLiteDimDense = 0,
  kTfLiteDimSparseCSR = 1,
};

// TfLiteDelegateFlags
constexpr int64_t kTfLiteDelegateFlagsNone = 0;
constexpr int64_t kTfLiteDelegateFlagsAllowDynamicTensors = 1;

// Index of an omitted optional input (e.g. no bias).
constexpr int kTfLiteOptionalTensor = -1;

// ---- Structs. ----

struct TfLiteIntArray {
  int size;
  int data[];  // `size` ints (flexible array member, a GNU C++ extension).
};

// Bytes of a TfLiteIntArray of n entries (4 + 4n, as TfLiteIntArrayCreate).
inline size_t IntArrayBytes(int n) {
  return sizeof(int) + sizeof(int) * static_cast<size_t>(n < 0 ? 0 : n);
}

struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
};

enum TfLiteQuantizationType : int {
  kTfLiteNoQuantization = 0,
  kTfLiteAffineQuantization = 1,
};

struct TfLiteQuantization {
  int type;  // TfLiteQuantizationType
  void* params;  // TfLiteAffineQuantization* for kTfLiteAffineQuantization.
};

struct TfLiteFloatArray {
  int size;
  float data[];  // `size` floats.
};

// Per-tensor (one entry) or per-channel scales and zero points along
// quantized_dimension.
struct TfLiteAffineQuantization {
  TfLiteFloatArray* scale;
  TfLiteIntArray* zero_point;
  int32_t quantized_dimension;
};

struct TfLiteDimensionMetadata {
  TfLiteDimensionType format;
  int dense_size;
  TfLiteIntArray* array_segments;
  TfLiteIntArray* array_indices;
};

struct TfLiteSparsity {
  TfLiteIntArray* traversal_order;
  TfLiteIntArray* block_map;
  TfLiteDimensionMetadata* dim_metadata;
  int dim_metadata_size;
};

struct TfLiteDelegate;

struct TfLiteTensor {
  TfLiteType type;
  void* data;  // TfLitePtrUnion: every member is a pointer.
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
  TfLiteAllocationType allocation_type;
  size_t bytes;
  const void* allocation;
  const char* name;
  TfLiteDelegate* delegate;
  int buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  TfLiteSparsity* sparsity;
  const TfLiteIntArray* dims_signature;
};

// Prefix: the runtime allocates nodes and only pointers are handed out.
struct TfLiteNode {
  TfLiteIntArray* inputs;
  TfLiteIntArray* outputs;
  TfLiteIntArray* intermediates;
  TfLiteIntArray* temporaries;
  void* user_data;
  void* builtin_data;
  // More fields follow in the runtime; never accessed.
};

struct TfLiteContext;
struct TfLiteNode;

// Arrives as the `buffer` of a delegate kernel's init (length 0).
struct TfLiteDelegateParams {
  TfLiteDelegate* delegate;
  TfLiteIntArray* nodes_to_replace;
  TfLiteIntArray* input_tensors;
  TfLiteIntArray* output_tensors;
};

struct TfLiteRegistration {
  void* (*init)(TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node);
  const char* (*profiling_string)(const TfLiteContext* context,
                                  const TfLiteNode* node);
  int32_t builtin_code;
  const char* custom_name;
  int version;
  void* registration_external;  // TfLiteOperator*; must be null.
  void* (*async_kernel)(TfLiteContext* context, TfLiteNode* node);
  uint64_t inplace_operator;
};

// What the delegate passes by value to ReplaceNodeSubsetsWithDelegateKernels:
// the registration and a zeroed tail (see the header comment).
struct TfLiteRegistrationPadded {
  TfLiteRegistration registration;
  unsigned char zero_tail[40];
};

// Prefix up to the last member used.
struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(TfLiteContext* context,
                                   TfLiteIntArray** execution_plan);
  TfLiteTensor* tensors;
  void* impl_;
  TfLiteStatus (*ResizeTensor)(TfLiteContext* context, TfLiteTensor* tensor,
                               TfLiteIntArray* new_size);
  void (*ReportError)(TfLiteContext* context, const char* format, ...);
  TfLiteStatus (*AddTensors)(TfLiteContext* context, int tensors_to_add,
                             int* first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(TfLiteContext* context,
                                         int node_index, TfLiteNode** node,
                                         TfLiteRegistration** registration);
  // The runtime's parameter is a TfLiteRegistration by value (it reads its
  // 88 bytes from the stack); the padded struct starts with the same bytes.
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(
      TfLiteContext* context, TfLiteRegistrationPadded registration,
      const TfLiteIntArray* nodes_to_replace, TfLiteDelegate* delegate);
  int recommended_num_threads;
  void* GetExternalContext;  // Never called.
  void* SetExternalContext;  // Never called.
  bool allow_fp32_relax_to_fp16;
  void* profiler;
  void* AllocatePersistentBuffer;     // Never called.
  void* AllocateBufferForEval;        // Never called.
  void* RequestScratchBufferInArena;  // Never called.
  void* GetScratchBuffer;             // Never called.
  void* ResizeTensorExplicit;         // Never called.
  // The partitions ReplaceNodeSubsetsWithDelegateKernels would make of
  // `nodes_to_replace`, without making them. Set only during the delegate's
  // Prepare; the array belongs to the runtime (valid until the next call or
  // the end of Prepare). May be null in other hosts: check before calling.
  TfLiteStatus (*PreviewDelegatePartitioning)(
      TfLiteContext* context, const TfLiteIntArray* nodes_to_replace,
      TfLiteDelegateParams** partition_params_array, int* num_partitions);
  // More fields follow in the runtime; never accessed.
};

struct TfLiteDelegate {
  void* data_;
  TfLiteStatus (*Prepare)(TfLiteContext* context, TfLiteDelegate* delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext* context,
                                       TfLiteDelegate* delegate,
                                       int buffer_handle,
                                       TfLiteTensor* tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext* context,
                                     TfLiteDelegate* delegate,
                                     int buffer_handle, TfLiteTensor* tensor);
  void (*FreeBufferHandle)(TfLiteContext* context, TfLiteDelegate* delegate,
                           int* handle);
  int64_t flags;
  void* opaque_delegate_builder;  // TfLiteOpaqueDelegateBuilder*; null.
};


// Prefix (the runtime allocates it).
struct TfLiteFullyConnectedParams {
  TfLiteFusedActivation activation;
  TfLiteFullyConnectedWeightsFormat weights_format;
  bool keep_num_dims;
  bool asymmetric_quantize_inputs;
};

// The whole struct (the runtime allocates it).
struct TfLiteBatchMatMulParams {
  bool adj_x;
  bool adj_y;
  bool asymmetric_quantize_inputs;
};

// Prefix (the runtime allocates it); quantized_bias_type since CONV_2D v7.
struct TfLiteConvParams {
  TfLitePadding padding;
  int stride_width;
  int stride_height;
  TfLiteFusedActivation activation;
  int dilation_width_factor;
  int dilation_height_factor;
  TfLiteType quantized_bias_type;
};

// builtin_op_data.h; depth_multiplier is informational since TF 2.0 (the
// kernels derive it from the shapes, and so does the delegate).
struct TfLiteDepthwiseConvParams {
  TfLitePadding padding;
  int stride_width;
  int stride_height;
  int depth_multiplier;
  TfLiteFusedActivation activation;
  int dilation_width_factor;
  int dilation_height_factor;
};

// builtin_op_data.h; fields after time_major were appended by later op
// versions (asymmetric_quantize_inputs v3, diagonal_recurrent_tensors v4)
// and are zero for older models.
struct TfLiteUnidirectionalSequenceLSTMParams {
  TfLiteFusedActivation activation;  // The cell and output activation.
  float cell_clip;                   // 0: no clipping.
  float proj_clip;
  bool time_major;  // Input [time, batch, ...] rather than [batch, time, ...].
  bool asymmetric_quantize_inputs;
  bool diagonal_recurrent_tensors;
};

// ---- Layout checks (64-bit Linux, checked against both runtimes). ----

static_assert(sizeof(TfLiteIntArray) == 4, "TfLiteIntArray header");
static_assert(offsetof(TfLiteIntArray, data) == 4, "TfLiteIntArray.data");

static_assert(sizeof(TfLiteTensor) == 112, "TfLiteTensor size");
static_assert(offsetof(TfLiteTensor, type) == 0, "TfLiteTensor.type");
static_assert(offsetof(TfLiteTensor, data) == 8, "TfLiteTensor.data");
static_assert(offsetof(TfLiteTensor, dims) == 16, "TfLiteTensor.dims");
static_assert(offsetof(TfLiteTensor, params) == 24, "TfLiteTensor.params");
static_assert(offsetof(TfLiteTensor, allocation_type) == 32,
              "TfLiteTensor.allocation_type");
static_assert(offsetof(TfLiteTensor, bytes) == 40, "TfLiteTensor.bytes");
static_assert(offsetof(TfLiteTensor, allocation) == 48,
              "TfLiteTensor.allocation");
static_assert(offsetof(TfLiteTensor, name) == 56, "TfLiteTensor.name");
static_assert(offsetof(TfLiteTensor, delegate) == 64, "TfLiteTensor.delegate");
static_assert(offsetof(TfLiteTensor, buffer_handle) == 72,
              "TfLiteTensor.buffer_handle");
static_assert(offsetof(TfLiteTensor, data_is_stale) == 76,
              "TfLiteTensor.data_is_stale");
static_assert(offsetof(TfLiteTensor, is_variable) == 77,
              "TfLiteTensor.is_variable");
static_assert(offsetof(TfLiteTensor, quantization) == 80,
              "TfLiteTensor.quantization");
static_assert(offsetof(TfLiteTensor, sparsity) == 96, "TfLiteTensor.sparsity");
static_assert(offsetof(TfLiteAffineQuantization, zero_point) == 8,
              "TfLiteAffineQuantization.zero_point");
static_assert(offsetof(TfLiteAffineQuantization, quantized_dimension) == 16,
              "TfLiteAffineQuantization.quantized_dimension");
static_assert(offsetof(TfLiteTensor, dims_signature) == 104,
              "TfLiteTensor.dims_signature");

static_assert(offsetof(TfLiteNode, inputs) == 0, "TfLiteNode.inputs");
static_assert(offsetof(TfLiteNode, outputs) == 8, "TfLiteNode.outputs");
static_assert(offsetof(TfLiteNode, intermediates) == 16,
              "TfLiteNode.intermediates");
static_assert(offsetof(TfLiteNode, temporaries) == 24,
              "TfLiteNode.temporaries");
static_assert(offsetof(TfLiteNode, user_data) == 32, "TfLiteNode.user_data");
static_assert(offsetof(TfLiteNode, builtin_data) == 40,
              "TfLiteNode.builtin_data");

static_assert(offsetof(TfLiteContext, tensors_size) == 0,
              "TfLiteContext.tensors_size");
static_assert(offsetof(TfLiteContext, GetExecutionPlan) == 8,
              "TfLiteContext.GetExecutionPlan");
static_assert(offsetof(TfLiteContext, tensors) == 16, "TfLiteContext.tensors");
static_assert(offsetof(TfLiteContext, impl_) == 24, "TfLiteContext.impl_");
static_assert(offsetof(TfLiteContext, ResizeTensor) == 32,
              "TfLiteContext.ResizeTensor");
static_assert(offsetof(TfLiteContext, ReportError) == 40,
              "TfLiteContext.ReportError");
static_assert(offsetof(TfLiteContext, AddTensors) == 48,
              "TfLiteContext.AddTensors");
static_assert(offsetof(TfLiteContext, GetNodeAndRegistration) == 56,
              "TfLiteContext.GetNodeAndRegistration");
static_assert(offsetof(TfLiteContext, ReplaceNodeSubsetsWithDelegateKernels) ==
                  64,
              "TfLiteContext.ReplaceNodeSubsetsWithDelegateKernels");
static_assert(offsetof(TfLiteContext, recommended_num_threads) == 72,
              "TfLiteContext.recommended_num_threads");
static_assert(offsetof(TfLiteContext, allow_fp32_relax_to_fp16) == 96,
              "TfLiteContext.allow_fp32_relax_to_fp16");
static_assert(offsetof(TfLiteContext, PreviewDelegatePartitioning) == 152,
              "TfLiteContext.PreviewDelegatePartitioning");

static_assert(sizeof(TfLiteRegistration) == 88, "TfLiteRegistration size");
static_assert(offsetof(TfLiteRegistration, init) == 0, "init");
static_assert(offsetof(TfLiteRegistration, free) == 8, "free");
static_assert(offsetof(TfLiteRegistration, prepare) == 16, "prepare");
static_assert(offsetof(TfLiteRegistration, invoke) == 24, "invoke");
static_assert(offsetof(TfLiteRegistration, profiling_string) == 32,
              "profiling_string");
static_assert(offsetof(TfLiteRegistration, builtin_code) == 40,
              "builtin_code");
static_assert(offsetof(TfLiteRegistration, custom_name) == 48, "custom_name");
static_assert(offsetof(TfLiteRegistration, version) == 56, "version");
static_assert(offsetof(TfLiteRegistration, registration_external) == 64,
              "registration_external");
static_assert(offsetof(TfLiteRegistration, async_kernel) == 72,
              "async_kernel");
static_assert(offsetof(TfLiteRegistration, inplace_operator) == 80,
              "inplace_operator");
static_assert(offsetof(TfLiteRegistrationPadded, registration) == 0,
              "padded registration starts with the registration");
static_assert(sizeof(TfLiteRegistrationPadded) == 128,
              "padded registration size");

static_assert(sizeof(TfLiteDelegate) == 56, "TfLiteDelegate size");
static_assert(offsetof(TfLiteDelegate, data_) == 0, "data_");
static_assert(offsetof(TfLiteDelegate, Prepare) == 8, "Prepare");
static_assert(offsetof(TfLiteDelegate, CopyFromBufferHandle) == 16,
              "CopyFromBufferHandle");
static_assert(offsetof(TfLiteDelegate, CopyToBufferHandle) == 24,
              "CopyToBufferHandle");
static_assert(offsetof(TfLiteDelegate, FreeBufferHandle) == 32,
              "FreeBufferHandle");
static_assert(offsetof(TfLiteDelegate, flags) == 40, "flags");
static_assert(offsetof(TfLiteDelegate, opaque_delegate_builder) == 48,
              "opaque_delegate_builder");

static_assert(sizeof(TfLiteDelegateParams) == 32, "TfLiteDelegateParams");
static_assert(offsetof(TfLiteDelegateParams, nodes_to_replace) == 8,
              "nodes_to_replace");
static_assert(offsetof(TfLiteDelegateParams, input_tensors) == 16,
              "input_tensors");
static_assert(offsetof(TfLiteDelegateParams, output_tensors) == 24,
              "output_tensors");

static_assert(offsetof(TfLiteFullyConnectedParams, activation) == 0,
              "activation");
static_assert(offsetof(TfLiteFullyConnectedParams, weights_format) == 4,
              "weights_format");
static_assert(offsetof(TfLiteFullyConnectedParams, keep_num_dims) == 8,
              "keep_num_dims");

static_assert(offsetof(TfLiteBatchMatMulParams, adj_x) == 0, "adj_x");
static_assert(offsetof(TfLiteBatchMatMulParams, adj_y) == 1, "adj_y");

static_assert(offsetof(TfLiteConvParams, padding) == 0, "padding");
static_assert(offsetof(TfLiteConvParams, stride_width) == 4, "stride_width");
static_assert(offsetof(TfLiteConvParams, stride_height) == 8,
              "stride_height");
static_assert(offsetof(TfLiteConvParams, activation) == 12, "activation");
static_assert(offsetof(TfLiteConvParams, dilation_width_factor) == 16,
              "dilation_width_factor");
static_assert(offsetof(TfLiteConvParams, dilation_height_factor) == 20,
              "dilation_height_factor");
static_assert(offsetof(TfLiteConvParams, quantized_bias_type) == 24,
              "quantized_bias_type");

static_assert(sizeof(TfLiteDepthwiseConvParams) == 28,
              "TfLiteDepthwiseConvParams");
static_assert(offsetof(TfLiteDepthwiseConvParams, depth_multiplier) == 12,
              "TfLiteDepthwiseConvParams.depth_multiplier");
static_assert(offsetof(TfLiteDepthwiseConvParams, activation) == 16,
              "TfLiteDepthwiseConvParams.activation");
static_assert(offsetof(TfLiteDepthwiseConvParams, dilation_height_factor) ==
                  24,
              "TfLiteDepthwiseConvParams.dilation_height_factor");

static_assert(offsetof(TfLiteUnidirectionalSequenceLSTMParams, cell_clip) == 4,
              "TfLiteUnidirectionalSequenceLSTMParams.cell_clip");
static_assert(offsetof(TfLiteUnidirectionalSequenceLSTMParams, proj_clip) == 8,
              "TfLiteUnidirectionalSequenceLSTMParams.proj_clip");
static_assert(offsetof(TfLiteUnidirectionalSequenceLSTMParams, time_major) ==
                  12,
              "TfLiteUnidirectionalSequenceLSTMParams.time_major");
static_assert(offsetof(TfLiteUnidirectionalSequenceLSTMParams,
                       diagonal_recurrent_tensors) == 14,
              "TfLiteUnidirectionalSequenceLSTMParams.diagonal_recurrent");

static_assert(sizeof(TfLiteSparsity) == 32, "TfLiteSparsity");
static_assert(offsetof(TfLiteSparsity, traversal_order) == 0,
              "TfLiteSparsity.traversal_order");
static_assert(offsetof(TfLiteSparsity, block_map) == 8,
              "TfLiteSparsity.block_map");
static_assert(offsetof(TfLiteSparsity, dim_metadata) == 16,
              "TfLiteSparsity.dim_metadata");
static_assert(offsetof(TfLiteSparsity, dim_metadata_size) == 24,
              "TfLiteSparsity.dim_metadata_size");
static_assert(sizeof(TfLiteDimensionMetadata) == 24,
              "TfLiteDimensionMetadata");
static_assert(offsetof(TfLiteDimensionMetadata, format) == 0,
              "TfLiteDimensionMetadata.format");
static_assert(offsetof(TfLiteDimensionMetadata, dense_size) == 4,
              "TfLiteDimensionMetadata.dense_size");
static_assert(offsetof(TfLiteDimensionMetadata, array_segments) == 8,
              "TfLiteDimensionMetadata.array_segments");
static_assert(offsetof(TfLiteDimensionMetadata, array_indices) == 16,
              "TfLiteDimensionMetadata.array_indices");
static_assert(sizeof(TfLiteDimensionType) == 4, "TfLiteDimensionType");

// ---- Run-time checks. ----

// Plausibility check of context->tensors as an array of TfLiteTensor: with a
// wrong element size, the fields read from later elements are garbage. Returns
// false (and names the first bad tensor in *bad_index) if any tensor has an
// impossible type, allocation type or rank.
bool CheckTensorArray(const TfLiteContext* context, int* bad_index);

// Returns a malloc'ed TfLiteIntArray holding `dims` (the runtime frees it
// with free(), e.g. after ResizeTensor takes ownership). Null on failure.
TfLiteIntArray* NewIntArray(const int* dims, int n);

}  // namespace tflite_abi
}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_TFLITE_ABI_H_
