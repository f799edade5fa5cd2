// Full-integer int8 FULLY_CONNECTED nodes through the whole delegate (fake
// graph): claimed nodes equal the int8 reference on every output, across
// resizes; nodes whose quantization the kernels do not follow are declined
// with the reason named.
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/qs8_dense_reference.h"
#include "cc/kernels/requantize.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(11);

// Affine quantization parameters that outlive the graph.
class Quantizations {
 public:
  // Attaches scales / zero points to tensor `t` of `g`.
  void Set(FakeGraph& g, int t, const std::vector<float>& scales,
           const std::vector<int>& zero_points, int dimension = 0) {
    auto holder = std::make_unique<Holder>();
    holder->scale = MakeArray<TfLiteFloatArray, float>(scales);
    holder->zero_point = MakeArray<TfLiteIntArray, int>(zero_points);
    holder->affine.scale =
        reinterpret_cast<TfLiteFloatArray*>(holder->scale.data());
    holder->affine.zero_point =
        reinterpret_cast<TfLiteIntArray*>(holder->zero_point.data());
    holder->affine.quantized_dimension = dimension;
    g.tensor(t).quantization.type = kTfLiteAffineQuantization;
    g.tensor(t).quantization.params = &holder->affine;
    if (scales.size() == 1) {
      g.tensor(t).params.scale = scales[0];
      g.tensor(t).params.zero_point = zero_points[0];
    }
    holders_.push_back(std::move(holder));
  }

 private:
  struct Holder {
    std::vector<int32_t> scale, zero_point;  // int + values, 4 bytes each.
    TfLiteAffineQuantization affine;
  };
  template <class Array, class T>
  static std::vector<int32_t> MakeArray(const std::vector<T>& v) {
    std::vector<int32_t> words(1 + v.size());
    words[0] = static_cast<int32_t>(v.size());
    std::memcpy(words.data() + 1, v.data(), v.size() * 4);
    return words;
  }
  std::vector<std::unique_ptr<Holder>> holders_;
};

// A constant int8 (or int32) tensor holding `values`.
template <class T>
int AddConst(FakeGraph& g, const std::vector<int>& dims,
             const std::vector<T>& values, TfLiteType type) {
  std::vector<float> words((values.size() * sizeof(T) + 3) / 4);
  std::memcpy(words.data(), values.data(), values.size() * sizeof(T));
  const int t = g.AddTensor(dims, true, words, type);
  g.tensor(t).bytes = values.size() * sizeof(T);
  return t;
}

// [out][in] int8 weights, 1x4 blocks kept with probability `keep`.
std::vector<int8_t> Weights(int out, int in, double keep) {
  std::uniform_int_distribution<int> value(-127, 127);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int8_t> w(static_cast<size_t>(out) * in, 0);
  for (int o = 0; o < out; ++o) {
    for (int j = 0; j < in; j += 4) {
      if (coin(g_rng) >= keep) continue;
      for (int k = j; k < j + 4 && k < in; ++k) {
        w[static_cast<size_t>(o) * in + k] = static_cast<int8_t>(value(g_rng));
      }
    }
  }
  return w;
}

struct Layer {
  int out, in;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> filter_scales;
  float input_scale, output_scale;
  int input_zp, output_zp;
};

Layer MakeLayer(int out, int in, bool per_channel, int input_zp,
                int output_zp) {
  Layer l{out, in, Weights(out, in, 0.25), {}, {}, 0.02f, 0.05f, input_zp,
          output_zp};
  std::uniform_int_distribution<int> b(-3000, 3000);
  for (int o = 0; o < out; ++o) l.bias.push_back(b(g_rng));
  std::uniform_real_distribution<float> s(0.002f, 0.02f);
  for (int o = 0; o < (per_channel ? out : 1); ++o) {
    l.filter_scales.push_back(s(g_rng));
  }
  return l;
}

// input -> FULLY_CONNECTED(l) -> output, every tensor quantized as l says.
struct Graph {
  FakeGraph g;
  Quantizations q;
  int x = -1, w = -1, b = -1, y = -1, node = -1;
};

void Build(Graph* gr, const Layer& l, int activation) {
  FakeGraph& g = gr->g;
  gr->x = g.AddTensor({1, l.in}, false, {}, kTfLiteInt8);
  gr->w = AddConst(g, {l.out, l.in}, l.w, kTfLiteInt8);
  gr->b = AddConst(g, {l.out}, l.bias, kTfLiteInt32);
  gr->y = g.AddTensor({1, l.out}, false, {}, kTfLiteInt8);
  gr->q.Set(g, gr->x, {l.input_scale}, {l.input_zp});
  gr->q.Set(g, gr->y, {l.output_scale}, {l.output_zp});
  gr->q.Set(g, gr->w, l.filter_scales,
            std::vector<int>(l.filter_scales.size(), 0));
  gr->node = g.AddFullyConnected(gr->x, gr->w, gr->b, gr->y, activation);
  g.SetGraphOutputs({gr->y});
}

std::vector<int8_t> Reference(const Layer& l, const std::vector<int8_t>& x,
                              size_t batch, FusedActivation act) {
  Qs8FcQuantization q;
  q.input_scale = l.input_scale;
  q.input_zero_point = l.input_zp;
  q.filter_scales = l.filter_scales.data();
  q.num_filter_scales = static_cast<int>(l.filter_scales.size());
  q.output_scale = l.output_scale;
  q.output_zero_point = l.output_zp;
  EXPECT_EQ(Int8ActivationRange(act, l.output_scale, l.output_zp,
                                &q.output_min, &q.output_max),
            "");
  std::vector<QuantizedMultiplier> rows;
  EXPECT_EQ(ComputeFcMultipliers(q, l.out, &rows), "");
  std::vector<int8_t> y(batch * l.out);
  Qs8FullyConnectedReference(batch, l.out, l.in, x.data(), l.input_zp,
                             l.w.data(), l.bias.data(), rows.data(),
                             l.output_zp, q.output_min, q.output_max,
                             y.data());
  return y;
}

struct Case {
  bool per_channel;
  int input_zp, output_zp;
  int activation;  // TfLiteFusedActivation.
  FusedActivation act;
};

class Int8FcTest : public ::testing::TestWithParam<Case> {};

TEST_P(Int8FcTest, ClaimedAndBitExactAcrossResizes) {
  const Case c = GetParam();
  const Layer l = MakeLayer(37, 70, c.per_channel, c.input_zp, c.output_zp);
  Graph gr;
  Build(&gr, l, c.activation);
  Delegate d(Opts{{"format", "bsr:1x4"}});
  ASSERT_EQ(gr.g.ApplyDelegate(d.get()), kTfLiteOk);
  ASSERT_EQ(d.claimed(), 1) << d.report();
  EXPECT_NE(d.report().find("\"dtype\": \"int8\""), std::string::npos);
  std::uniform_int_distribution<int> byte(-128, 127);
  for (int batch : {1, 4, 2}) {
    gr.g.ResizeInput(gr.x, {batch, l.in});
    ASSERT_EQ(gr.g.AllocateTensors(), kTfLiteOk) << gr.g.errors().back();
    std::vector<int8_t> x(static_cast<size_t>(batch) * l.in);
    for (int8_t& v : x) v = static_cast<int8_t>(byte(g_rng));
    std::memcpy(gr.g.tensor(gr.x).data, x.data(), x.size());
    ASSERT_EQ(gr.g.Invoke(), kTfLiteOk);
    const std::vector<int8_t> want = Reference(l, x, batch, c.act);
    const auto* got = static_cast<const int8_t*>(gr.g.tensor(gr.y).data);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "batch " << batch << " at " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Quantizations, Int8FcTest,
    ::testing::Values(
        Case{true, 0, 0, kTfLiteActNone, FusedActivation::kNone},
        Case{false, -128, 127, kTfLiteActNone, FusedActivation::kNone},
        Case{true, 127, -128, kTfLiteActRelu, FusedActivation::kRelu},
        Case{true, 5, -7, kTfLiteActRelu6, FusedActivation::kRelu6},
        Case{false, -3, 2, kTfLiteActReluN1To1,
             FusedActivation::kReluN1To1}));

// The reason the delegate gives for node 0 of `g`.
std::string ReasonOf(FakeGraph& g) {
  Delegate d(Opts{{"format", "bsr:1x4"}});
  EXPECT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(d.claimed(), 0) << d.report();
  return d.report();
}

TEST(Int8FcDeclineTest, QuantizationTheKernelsDoNotFollow) {
  const Layer l = MakeLayer(16, 32, true, 1, 2);
  {  // Weights with a nonzero zero point (asymmetric).
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    std::vector<int> zps(16, 0);
    zps[3] = 1;
    gr.q.Set(gr.g, gr.w, l.filter_scales, zps);
    EXPECT_NE(ReasonOf(gr.g).find("not symmetric"), std::string::npos);
  }
  {  // Per-channel scales along the input dimension.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.q.Set(gr.g, gr.w, std::vector<float>(16, 0.01f),
             std::vector<int>(16, 0), 1);
    EXPECT_NE(ReasonOf(gr.g).find("along dimension 1"), std::string::npos);
  }
  {  // An input quantized per channel.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.q.Set(gr.g, gr.x, {0.1f, 0.2f}, {0, 0});
    EXPECT_NE(ReasonOf(gr.g).find("input is quantized per channel"),
              std::string::npos);
  }
  {  // An output without quantization parameters.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.g.tensor(gr.y).quantization.type = kTfLiteNoQuantization;
    EXPECT_NE(ReasonOf(gr.g).find("output has no affine quantization"),
              std::string::npos);
  }
  {  // A zero scale.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    std::vector<float> scales = l.filter_scales;
    scales[0] = 0.0f;
    gr.q.Set(gr.g, gr.w, scales, std::vector<int>(16, 0));
    EXPECT_NE(ReasonOf(gr.g).find("positive finite"), std::string::npos);
  }
  {  // A float bias.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.g.tensor(gr.b).type = kTfLiteFloat32;
    EXPECT_NE(ReasonOf(gr.g).find("bias is not a constant int32"),
              std::string::npos);
  }
  {  // Tanh is not a fused activation the kernels clamp.
    Graph gr;
    Build(&gr, l, kTfLiteActTanh);
    EXPECT_NE(ReasonOf(gr.g).find("fused activation"), std::string::npos);
  }
  {  // int8 in, float out.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.g.tensor(gr.y).type = kTfLiteFloat32;
    EXPECT_NE(ReasonOf(gr.g).find("not both float32 or both int8"),
              std::string::npos);
  }
  {  // Hybrid: float activations, int8 weights.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.g.tensor(gr.x).type = kTfLiteFloat32;
    gr.g.tensor(gr.y).type = kTfLiteFloat32;
    EXPECT_NE(ReasonOf(gr.g).find("weights are not float32"),
              std::string::npos);
  }
  {  // Weights whose byte size is not out * in.
    Graph gr;
    Build(&gr, l, kTfLiteActNone);
    gr.g.tensor(gr.w).bytes -= 1;
    EXPECT_NE(ReasonOf(gr.g).find("byte size"), std::string::npos);
  }
}

TEST(Int8FcDeclineTest, FormatsWithoutInt8KernelsAreNamed) {
  const Layer l = MakeLayer(16, 32, true, 0, 0);
  Graph gr;
  Build(&gr, l, kTfLiteActNone);
  Delegate d(Opts{{"format", "gs"}});
  ASSERT_EQ(gr.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(d.claimed(), 0);
  EXPECT_NE(d.report().find("no int8 kernels"), std::string::npos)
      << d.report();
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
