// Peak FMA rate of one core: independent vector FMA chains, enough of them
// to cover the FMA latency on every port, nothing loaded or stored.
#ifndef TF_SPARSE_CC_BENCH_F32_PEAK_FMA_H_
#define TF_SPARSE_CC_BENCH_F32_PEAK_FMA_H_

namespace tf_sparse {

// Runs `iterations` x 24 AVX-512 FMAs (16 lanes each) and returns a value
// derived from the results (so that they are not optimised away).
float f32_peak_fma__avx512(long long iterations);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_BENCH_F32_PEAK_FMA_H_
