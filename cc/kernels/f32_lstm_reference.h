// Plain LSTM layer over a sequence: the independent oracle for
// F32SparseLstm (it reads the dense gate matrices directly, never a packed
// format). The semantics are TFLite's float UNIDIRECTIONAL_SEQUENCE_LSTM
// without peepholes, projection, layer normalisation or CIFG, with tanh as
// the cell activation: per step t and batch item b,
//   z_g = Wx_g x_t + Wh_g h + bias_g      for the gates g = i, f, c, o
//   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_c), o = sigmoid(z_o)
//   c = f * c + i * g, clipped to [-cell_clip, cell_clip] if cell_clip > 0
//   h = o * tanh(c), written to the output at (b, t)
// starting from the given h and c and leaving the last ones there.
#ifndef TF_SPARSE_CC_KERNELS_F32_LSTM_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_F32_LSTM_REFERENCE_H_

namespace tf_sparse {

// The dense weights of an LSTM layer in TFLite's layout, gates in the order
// input, forget, cell, output.
struct F32LstmDenseWeights {
  const float* input[4] = {};      // [n_cell][n_input] each.
  const float* recurrent[4] = {};  // [n_cell][n_cell] each.
  const float* bias[4] = {};       // n_cell each, or null (zeros).
};

// x: [batch][steps][n_input] (time_major: [steps][batch][n_input]);
// y: the same layout with n_cell per step; h, c: [batch][n_cell], read as
// the initial state and overwritten with the final one. Sums in double.
void F32LstmReference(int batch, int steps, bool time_major, int n_input,
                      int n_cell, const F32LstmDenseWeights& w,
                      float cell_clip, const float* x, float* y, float* h,
                      float* c);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_LSTM_REFERENCE_H_
