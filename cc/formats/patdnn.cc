#include "cc/formats/patdnn.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace tf_sparse {
namespace {

int Popcount9(unsigned mask) { return __builtin_popcount(mask & 0x1ffu); }

// Support (9-bit mask of nonzero taps) of kernel (o, i) of OHWI weights.
unsigned SupportOf(const float* w, int in, int o, int i) {
  unsigned mask = 0;
  for (int t = 0; t < 9; ++t) {
    if (w[(static_cast<size_t>(o) * 9 + t) * in + i] != 0.0f) mask |= 1u << t;
  }
  return mask;
}

// A 4-tap mask covering `support` (popcount < 4): the centre first, then the
// lowest free taps.
unsigned Complete(unsigned support) {
  unsigned mask = support;
  if (Popcount9(mask) < kPatdnnTaps) mask |= 1u << 4;
  for (int t = 0; t < 9 && Popcount9(mask) < kPatdnnTaps; ++t) mask |= 1u << t;
  return mask;
}

}  // namespace

PatternTaps TapsOf(uint16_t mask) {
  PatternTaps taps{};
  int n = 0;
  for (int t = 0; t < 9 && n < kPatdnnTaps; ++t) {
    if (mask & (1u << t)) {
      taps.dy[n] = t / 3;
      taps.dx[n] = t % 3;
      ++n;
    }
  }
  return taps;
}

int64_t PatdnnWeights::PackedBytes() const {
  return static_cast<int64_t>(patterns.size()) * 2 +
         4 * static_cast<int64_t>(reorder.size() + offset.size() +
                                  index.size() + stride.size() +
                                  weight.size());
}

PatternStats MeasurePatterns(const float* w, int out, int in) {
  PatternStats s;
  s.out_channels = out;
  s.in_channels = in;
  s.weights = static_cast<long long>(out) * 9 * in;
  s.kernels = static_cast<long long>(out) * in;
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i) {
      const int n = Popcount9(SupportOf(w, in, o, i));
      s.zero_weights += 9 - n;
      if (n > 0) ++s.nonzero_kernels;
      s.max_kernel_nonzeros = std::max(s.max_kernel_nonzeros, n);
    }
  }
  return s;
}

bool PackPatdnn(const float* w, int out, int in, PatdnnWeights* packed,
                PatternStats* stats, std::string* error) {
  PatternStats s = MeasurePatterns(w, out, in);
  if (!s.pattern_structured()) {
    if (error != nullptr) {
      *error = "a 3x3 kernel has " + std::to_string(s.max_kernel_nonzeros) +
               " nonzero taps (a pattern has at most 4)";
    }
    if (stats != nullptr) *stats = s;
    return false;
  }
  // Library: supports of the full (4-tap) kernels, by frequency.
  std::vector<unsigned> support(static_cast<size_t>(out) * in);
  std::map<unsigned, long long> freq;
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i) {
      const unsigned m = SupportOf(w, in, o, i);
      support[static_cast<size_t>(o) * in + i] = m;
      if (Popcount9(m) == kPatdnnTaps) ++freq[m];
    }
  }
  std::vector<std::pair<long long, unsigned>> by_freq;
  for (const auto& kv : freq) by_freq.push_back({-kv.second, kv.first});
  std::sort(by_freq.begin(), by_freq.end());
  std::vector<unsigned> library;
  for (const auto& fm : by_freq) library.push_back(fm.second);
  // Under-full kernels: the most frequent covering pattern, else a new one.
  std::vector<unsigned> pattern_of(support.size(), 0);
  for (size_t k = 0; k < support.size(); ++k) {
    const unsigned m = support[k];
    const int n = Popcount9(m);
    if (n == 0) continue;
    if (n == kPatdnnTaps) {
      pattern_of[k] = m;
      continue;
    }
    unsigned chosen = 0;
    for (unsigned p : library) {
      if ((p & m) == m) {
        chosen = p;
        break;
      }
    }
    if (chosen == 0) {
      chosen = Complete(m);
      library.push_back(chosen);
    }
    pattern_of[k] = chosen;
  }
  // Pattern ids: the library in ascending mask order (deterministic).
  std::sort(library.begin(), library.end());
  const int P = static_cast<int>(library.size());
  std::map<unsigned, int> id;
  for (int p = 0; p < P; ++p) id[library[p]] = p;

  PatdnnWeights r;
  r.out_channels = out;
  r.in_channels = in;
  r.patterns.assign(library.begin(), library.end());
  std::vector<int> count(out, 0);
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i) {
      count[o] += pattern_of[static_cast<size_t>(o) * in + i] != 0 ? 1 : 0;
    }
  }
  r.reorder.resize(out);
  std::iota(r.reorder.begin(), r.reorder.end(), 0);
  std::stable_sort(r.reorder.begin(), r.reorder.end(),
                   [&](int a, int b) { return count[a] > count[b]; });
  r.offset.assign(out + 1, 0);
  r.stride.assign(static_cast<size_t>(out) * (P + 1), 0);
  r.index.reserve(s.nonzero_kernels);
  r.weight.reserve(s.nonzero_kernels * kPatdnnTaps);
  std::vector<std::vector<int>> by_pattern(P);
  for (int f = 0; f < out; ++f) {
    const int o = r.reorder[f];
    for (auto& v : by_pattern) v.clear();
    for (int i = 0; i < in; ++i) {
      const unsigned m = pattern_of[static_cast<size_t>(o) * in + i];
      if (m != 0) by_pattern[id[m]].push_back(i);
    }
    int32_t* stride = &r.stride[static_cast<size_t>(f) * (P + 1)];
    int n = 0;
    for (int p = 0; p < P; ++p) {
      stride[p] = n;
      const PatternTaps taps = TapsOf(static_cast<uint16_t>(library[p]));
      for (int i : by_pattern[p]) {
        r.index.push_back(i);
        for (int t = 0; t < kPatdnnTaps; ++t) {
          const int tap = taps.dy[t] * 3 + taps.dx[t];
          r.weight.push_back(w[(static_cast<size_t>(o) * 9 + tap) * in + i]);
        }
        ++n;
      }
    }
    stride[P] = n;
    r.offset[f + 1] = r.offset[f] + n;
  }
  s.num_patterns = P;
  if (stats != nullptr) *stats = s;
  *packed = std::move(r);
  return true;
}

void UnpackPatdnn(const PatdnnWeights& p, float* w) {
  const int out = p.out_channels;
  const int in = p.in_channels;
  const int P = p.num_patterns();
  std::fill(w, w + static_cast<size_t>(out) * 9 * in, 0.0f);
  for (int f = 0; f < out; ++f) {
    const int o = p.reorder[f];
    const int32_t* stride = &p.stride[static_cast<size_t>(f) * (P + 1)];
    for (int q = 0; q < P; ++q) {
      const PatternTaps taps = TapsOf(p.patterns[q]);
      for (int k = p.offset[f] + stride[q]; k < p.offset[f] + stride[q + 1];
           ++k) {
        for (int t = 0; t < kPatdnnTaps; ++t) {
          const int tap = taps.dy[t] * 3 + taps.dx[t];
          w[(static_cast<size_t>(o) * 9 + tap) * in + p.index[k]] =
              p.weight[static_cast<size_t>(k) * kPatdnnTaps + t];
        }
      }
    }
  }
}

}  // namespace tf_sparse
