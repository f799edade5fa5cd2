#include "delegate/op_handler.h"

#include "delegate/bmm_analysis.h"
#include "delegate/bmm_kernel.h"
#include "delegate/conv_analysis.h"
#include "delegate/conv_kernel.h"
#include "delegate/dwconv_analysis.h"
#include "delegate/dwconv_kernel.h"
#include "delegate/fc_analysis.h"
#include "delegate/fc_partition_kernel.h"
#include "delegate/lstm_analysis.h"
#include "delegate/lstm_kernel.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

const std::vector<OpHandler>& OpHandlers() {
  static const std::vector<OpHandler>* handlers = new std::vector<OpHandler>{
      MakeOpHandler<FcDecision, &AnalyzeFcNode, &FcDecisionJson,
                    &LogFcDecision, FcPartitionKernel>(
          kTfLiteBuiltinFullyConnected),
      MakeOpHandler<ConvDecision, &AnalyzeConvNode, &ConvDecisionJson,
                    &LogConvDecision, ConvPartitionKernel>(
          kTfLiteBuiltinConv2d),
      MakeOpHandler<DwConvDecision, &AnalyzeDwConvNode, &DwConvDecisionJson,
                    &LogDwConvDecision, DwConvPartitionKernel>(
          kTfLiteBuiltinDepthwiseConv2d),
      MakeOpHandler<LstmDecision, &AnalyzeLstmNode, &LstmDecisionJson,
                    &LogLstmDecision, LstmPartitionKernel>(
          kTfLiteBuiltinUnidirectionalSequenceLstm),
      MakeOpHandler<BmmDecision, &AnalyzeBmmNode, &BmmDecisionJson,
                    &LogBmmDecision, BmmPartitionKernel>(
          kTfLiteBuiltinBatchMatmul),
  };
  return *handlers;
}

const OpHandler* FindOpHandler(int builtin_code) {
  for (const OpHandler& h : OpHandlers()) {
    if (h.builtin_code == builtin_code) return &h;
  }
  return nullptr;
}

}  // namespace tf_sparse
