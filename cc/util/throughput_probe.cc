#include "cc/util/throughput_probe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cc/util/aligned_buffer.h"
#include "cc/util/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace tf_sparse {
namespace {

constexpr int kRepetitions = 7;
constexpr long kFmaIterations = 200000;  // x 12 vector FMAs: ~1 ms.

// The result of every probe goes through here, so the loops are not
// optimised away.
volatile float g_sink = 0.0f;

float FmaLoopScalar(long iterations) {
  float a[12];
  for (int i = 0; i < 12; ++i) a[i] = 0.001f * i;
  const float m = 0.9999f, b = 0.0001f;
  for (long k = 0; k < iterations; ++k) {
    for (int i = 0; i < 12; ++i) a[i] = a[i] * m + b;
  }
  float s = 0.0f;
  for (int i = 0; i < 12; ++i) s += a[i];
  return s;
}

float StreamScalar(const float* x, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i];
    s1 += x[i + 1];
    s2 += x[i + 2];
    s3 += x[i + 3];
  }
  for (; i < n; ++i) s0 += x[i];
  return s0 + s1 + s2 + s3;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,fma"))) float FmaLoopAvx512(long iterations) {
  __m512 a0 = _mm512_set1_ps(0.000f), a1 = _mm512_set1_ps(0.001f),
         a2 = _mm512_set1_ps(0.002f), a3 = _mm512_set1_ps(0.003f),
         a4 = _mm512_set1_ps(0.004f), a5 = _mm512_set1_ps(0.005f),
         a6 = _mm512_set1_ps(0.006f), a7 = _mm512_set1_ps(0.007f),
         a8 = _mm512_set1_ps(0.008f), a9 = _mm512_set1_ps(0.009f),
         a10 = _mm512_set1_ps(0.010f), a11 = _mm512_set1_ps(0.011f);
  const __m512 m = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(0.0001f);
  for (long k = 0; k < iterations; ++k) {
    a0 = _mm512_fmadd_ps(a0, m, b);
    a1 = _mm512_fmadd_ps(a1, m, b);
    a2 = _mm512_fmadd_ps(a2, m, b);
    a3 = _mm512_fmadd_ps(a3, m, b);
    a4 = _mm512_fmadd_ps(a4, m, b);
    a5 = _mm512_fmadd_ps(a5, m, b);
    a6 = _mm512_fmadd_ps(a6, m, b);
    a7 = _mm512_fmadd_ps(a7, m, b);
    a8 = _mm512_fmadd_ps(a8, m, b);
    a9 = _mm512_fmadd_ps(a9, m, b);
    a10 = _mm512_fmadd_ps(a10, m, b);
    a11 = _mm512_fmadd_ps(a11, m, b);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1),
                                         _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5),
                                         _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9),
                                     _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float FmaLoopAvx2(long iterations) {
  __m256 a0 = _mm256_set1_ps(0.000f), a1 = _mm256_set1_ps(0.001f),
         a2 = _mm256_set1_ps(0.002f), a3 = _mm256_set1_ps(0.003f),
         a4 = _mm256_set1_ps(0.004f), a5 = _mm256_set1_ps(0.005f),
         a6 = _mm256_set1_ps(0.006f), a7 = _mm256_set1_ps(0.007f),
         a8 = _mm256_set1_ps(0.008f), a9 = _mm256_set1_ps(0.009f),
         a10 = _mm256_set1_ps(0.010f), a11 = _mm256_set1_ps(0.011f);
  const __m256 m = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(0.0001f);
  for (long k = 0; k < iterations; ++k) {
    a0 = _mm256_fmadd_ps(a0, m, b);
    a1 = _mm256_fmadd_ps(a1, m, b);
    a2 = _mm256_fmadd_ps(a2, m, b);
    a3 = _mm256_fmadd_ps(a3, m, b);
    a4 = _mm256_fmadd_ps(a4, m, b);
    a5 = _mm256_fmadd_ps(a5, m, b);
    a6 = _mm256_fmadd_ps(a6, m, b);
    a7 = _mm256_fmadd_ps(a7, m, b);
    a8 = _mm256_fmadd_ps(a8, m, b);
    a9 = _mm256_fmadd_ps(a9, m, b);
    a10 = _mm256_fmadd_ps(a10, m, b);
    a11 = _mm256_fmadd_ps(a11, m, b);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1),
                                         _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5),
                                         _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9),
                                     _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

__attribute__((target("avx512f"))) float StreamAvx512(const float* x,
                                                      size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + i + 48));
  }
  float s = _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

__attribute__((target("avx2"))) float StreamAvx2(const float* x, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
  }
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1),
                                      _mm256_add_ps(s2, s3)));
  float s = 0.0f;
  for (float v : out) s += v;
  for (; i < n; ++i) s += x[i];
  return s;
}
#endif  // __x86_64__

#if defined(__aarch64__)
float FmaLoopNeon(long iterations) {
  float32x4_t a[12];
  for (int i = 0; i < 12; ++i) a[i] = vdupq_n_f32(0.001f * i);
  const float32x4_t m = vdupq_n_f32(0.9999f), b = vdupq_n_f32(0.0001f);
  for (long k = 0; k < iterations; ++k) {
    for (int i = 0; i < 12; ++i) a[i] = vfmaq_f32(b, a[i], m);
  }
  float32x4_t s = a[0];
  for (int i = 1; i < 12; ++i) s = vaddq_f32(s, a[i]);
  return vaddvq_f32(s);
}

float StreamNeon(const float* x, size_t n) {
  float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = vaddq_f32(s0, vld1q_f32(x + i));
    s1 = vaddq_f32(s1, vld1q_f32(x + i + 4));
    s2 = vaddq_f32(s2, vld1q_f32(x + i + 8));
    s3 = vaddq_f32(s3, vld1q_f32(x + i + 12));
  }
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; i < n; ++i) s += x[i];
  return s;
}
#endif  // __aarch64__

// The FMA loop and its vector width for the best supported ISA.
void BestFmaLoop(float (**loop)(long), int* lanes) {
  const CpuFeatures& f = GetCpuFeatures();
  *loop = FmaLoopScalar;
  *lanes = 1;
#if defined(__x86_64__)
  if (f.HasAvx512()) {
    *loop = FmaLoopAvx512;
    *lanes = 16;
  } else if (f.HasAvx2Fma()) {
    *loop = FmaLoopAvx2;
    *lanes = 8;
  }
#elif defined(__aarch64__)
  if (f.HasNeonFma()) {
    *loop = FmaLoopNeon;
    *lanes = 4;
  }
#else
  (void)f;
#endif
}

float (*BestStream())(const float*, size_t) {
  const CpuFeatures& f = GetCpuFeatures();
#if defined(__x86_64__)
  if (f.HasAvx512()) return StreamAvx512;
  if (f.HasAvx2Fma()) return StreamAvx2;
#elif defined(__aarch64__)
  if (f.HasNeonFma()) return StreamNeon;
#endif
  (void)f;
  return StreamScalar;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

#if !defined(__x86_64__)
// The value of the first "key : value" line of /proc/cpuinfo.
std::string CpuinfoField(const char* key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (Trim(line.substr(0, colon)) == key) return Trim(line.substr(colon + 1));
  }
  return "";
}
#endif

}  // namespace

double MonotonicSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double ProbeFmaNsPerLane() {
  float (*loop)(long);
  int lanes;
  BestFmaLoop(&loop, &lanes);
  const long iterations = lanes == 1 ? kFmaIterations / 4 : kFmaIterations;
  g_sink = g_sink + loop(iterations / 10);  // Warm up (frequency, caches).
  double best = 1e30;
  for (int r = 0; r < kRepetitions; ++r) {
    const double t0 = MonotonicSeconds();
    g_sink = g_sink + loop(iterations);
    best = std::min(best, MonotonicSeconds() - t0);
  }
  return best * 1e9 / (static_cast<double>(iterations) * 12 * lanes);
}

double ProbeStreamNsPerFloat(size_t floats) {
  floats = std::max<size_t>(floats, 64);
  AlignedBuffer<float> buffer(floats);
  for (size_t i = 0; i < floats; ++i) buffer.data()[i] = 1.0f;
  float (*stream)(const float*, size_t) = BestStream();
  g_sink = g_sink + stream(buffer.data(), floats);
  double best = 1e30;
  for (int r = 0; r < kRepetitions; ++r) {
    const double t0 = MonotonicSeconds();
    g_sink = g_sink + stream(buffer.data(), floats);
    best = std::min(best, MonotonicSeconds() - t0);
  }
  return best * 1e9 / static_cast<double>(floats);
}

std::string CpuModelKey() {
  std::string key;
#if defined(__x86_64__)
  unsigned regs[12] = {};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1],
                  &regs[4 * i + 2], &regs[4 * i + 3]);
    }
    key = Trim(std::string(reinterpret_cast<const char*>(regs), 48).c_str());
  }
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    const unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
    const unsigned model = ((eax >> 4) & 0xf) | (((eax >> 16) & 0xf) << 4);
    const unsigned stepping = eax & 0xf;
    key += " " + std::to_string(family) + "/" + std::to_string(model) + "/" +
           std::to_string(stepping);
  }
#else
  key = CpuinfoField("model name");
  const std::string implementer = CpuinfoField("CPU implementer");
  const std::string part = CpuinfoField("CPU part");
  if (!implementer.empty() || !part.empty()) {
    key += (key.empty() ? "" : " ") + implementer + "/" + part;
  }
#endif
  if (key.empty()) key = "unknown";
  return key;
}

}  // namespace tf_sparse
