// Pins the micro-kernel every family selects for every ISA value (supported
// here or not), so that a change to how kernels are chosen by ISA cannot
// move any selection unnoticed. The tables are per architecture: an x86-64
// build links the AVX2/AVX-512 kernels, an aarch64 build the NEON/SVE ones,
// and every other ISA falls back (to scalar, or SVE to NEON where a family
// has no SVE kernel).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

constexpr Isa kIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon,
                         Isa::kSve};

// Every family's selection for `isa`, one "family: name" line each.
std::string Selected(Isa isa) {
  std::string s;
  auto line = [&](const std::string& family, const char* name) {
    s += family + ": " + name + "\n";
  };
  for (int r : {1, 2, 4, 8, 16}) {
    for (int c : {1, 2, 4, 8, 16}) {
      line("bsr " + std::to_string(r) + "x" + std::to_string(c),
           SelectF32BsrUkernel(r, c, isa).name);
    }
  }
  line("csr", SelectF32CsrUkernel(isa).name);
  line("csr panels", SelectF32CsrUkernel(isa).panel_name);
  line("nm", SelectF32NmUkernel(isa).name);
  line("nm row groups", SelectF32NmUkernel(isa).row_group_name);
  line("gs", SelectF32GsUkernel(isa).name);
  line("vtaps", F32VtapsUkernelFor(isa).name);
  line("patdnn", F32PatdnnUkernelFor(isa).name);
  line("dwconv3x3", F32DwConv3x3UkernelFor(isa).name);
  line("pixvec", F32PixvecUkernelFor(isa).name);
  return s;
}

// The expected selections, per ISA in kIsas's order, as recorded from the
// per-family switches this test was written to replace (print the current
// ones: run the test with TF_SPARSE_DUMP_ISA_SELECTION=1).
#if defined(__x86_64__)
const char* const kExpected[] = {
    // scalar
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n",
    // avx2
    "bsr 1x1: f32_bsr_minmax_1x1__avx2\n"
    "bsr 1x2: f32_bsr_minmax_rxc__avx2\n"
    "bsr 1x4: f32_bsr_minmax_1x4__avx2\n"
    "bsr 1x8: f32_bsr_minmax_1x8__avx2\n"
    "bsr 1x16: f32_bsr_minmax_rxc__avx2\n"
    "bsr 2x1: f32_bsr_minmax_rxc__avx2\n"
    "bsr 2x2: f32_bsr_minmax_rxc__avx2\n"
    "bsr 2x4: f32_bsr_minmax_rxc__avx2\n"
    "bsr 2x8: f32_bsr_minmax_rxc__avx2\n"
    "bsr 2x16: f32_bsr_minmax_rxc__avx2\n"
    "bsr 4x1: f32_bsr_minmax_4x1__avx2\n"
    "bsr 4x2: f32_bsr_minmax_rxc__avx2\n"
    "bsr 4x4: f32_bsr_minmax_4x4__avx2\n"
    "bsr 4x8: f32_bsr_minmax_rxc__avx2\n"
    "bsr 4x16: f32_bsr_minmax_rxc__avx2\n"
    "bsr 8x1: f32_bsr_minmax_8x1__avx2\n"
    "bsr 8x2: f32_bsr_minmax_rxc__avx2\n"
    "bsr 8x4: f32_bsr_minmax_rxc__avx2\n"
    "bsr 8x8: f32_bsr_minmax_rxc__avx2\n"
    "bsr 8x16: f32_bsr_minmax_rxc__avx2\n"
    "bsr 16x1: f32_bsr_minmax_16x1__avx2\n"
    "bsr 16x2: f32_bsr_minmax_rxc__avx2\n"
    "bsr 16x4: f32_bsr_minmax_rxc__avx2\n"
    "bsr 16x8: f32_bsr_minmax_rxc__avx2\n"
    "bsr 16x16: f32_bsr_minmax_rxc__avx2\n"
    "csr: f32_csr_minmax__avx2\n"
    "csr panels: f32_csr_panel_minmax_16x64__avx2\n"
    "nm: f32_nm_minmax__avx2\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__avx2\n"
    "gs: f32_gs_minmax__avx2\n"
    "vtaps: f32_conv3x3_vtaps_6x16__avx2\n"
    "patdnn: f32_conv3x3_patdnn_4x16__avx2\n"
    "dwconv3x3: f32_dwconv3x3_taps_8__avx2\n"
    "pixvec: f32_conv_pixvec_32x8__avx2\n",
    // avx512
    "bsr 1x1: f32_bsr_minmax_1x1__avx512\n"
    "bsr 1x2: f32_bsr_minmax_rxc__avx512\n"
    "bsr 1x4: f32_bsr_minmax_1x4__avx512\n"
    "bsr 1x8: f32_bsr_minmax_1x8__avx512\n"
    "bsr 1x16: f32_bsr_minmax_rxc__avx512\n"
    "bsr 2x1: f32_bsr_minmax_rxc__avx512\n"
    "bsr 2x2: f32_bsr_minmax_rxc__avx512\n"
    "bsr 2x4: f32_bsr_minmax_rxc__avx512\n"
    "bsr 2x8: f32_bsr_minmax_rxc__avx512\n"
    "bsr 2x16: f32_bsr_minmax_rxc__avx512\n"
    "bsr 4x1: f32_bsr_minmax_4x1__avx512\n"
    "bsr 4x2: f32_bsr_minmax_rxc__avx512\n"
    "bsr 4x4: f32_bsr_minmax_4x4__avx512\n"
    "bsr 4x8: f32_bsr_minmax_rxc__avx512\n"
    "bsr 4x16: f32_bsr_minmax_rxc__avx512\n"
    "bsr 8x1: f32_bsr_minmax_8x1__avx512\n"
    "bsr 8x2: f32_bsr_minmax_rxc__avx512\n"
    "bsr 8x4: f32_bsr_minmax_rxc__avx512\n"
    "bsr 8x8: f32_bsr_minmax_rxc__avx512\n"
    "bsr 8x16: f32_bsr_minmax_rxc__avx512\n"
    "bsr 16x1: f32_bsr_minmax_16x1__avx512\n"
    "bsr 16x2: f32_bsr_minmax_rxc__avx512\n"
    "bsr 16x4: f32_bsr_minmax_rxc__avx512\n"
    "bsr 16x8: f32_bsr_minmax_rxc__avx512\n"
    "bsr 16x16: f32_bsr_minmax_rxc__avx512\n"
    "csr: f32_csr_minmax__avx512\n"
    "csr panels: f32_csr_panel_minmax_16x64__avx512\n"
    "nm: f32_nm_minmax__avx512\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__avx512\n"
    "gs: f32_gs_minmax__avx512\n"
    "vtaps: f32_conv3x3_vtaps_14x16__avx512\n"
    "patdnn: f32_conv3x3_patdnn_7x32__avx512\n"
    "dwconv3x3: f32_dwconv3x3_taps_16__avx512\n"
    "pixvec: f32_conv_pixvec_64x16__avx512\n",
    // neon
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n",
    // sve
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n"};
#else
const char* const kExpected[] = {
    // scalar
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n",
    // avx2
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n",
    // avx512
    "bsr 1x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 1x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 2x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 4x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 8x16: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x1: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x2: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x4: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x8: f32_bsr_minmax_rxc__scalar\n"
    "bsr 16x16: f32_bsr_minmax_rxc__scalar\n"
    "csr: f32_csr_minmax__scalar\n"
    "csr panels: f32_csr_panel_minmax_16x64__scalar\n"
    "nm: f32_nm_minmax__scalar\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__scalar\n"
    "gs: f32_gs_minmax__scalar\n"
    "vtaps: f32_conv3x3_vtaps_1x16__scalar\n"
    "patdnn: f32_conv3x3_patdnn_4x4__scalar\n"
    "dwconv3x3: f32_dwconv3x3_taps_1__scalar\n"
    "pixvec: f32_conv_pixvec_8x1__scalar\n",
    // neon
    "bsr 1x1: f32_bsr_minmax_1x1__neonfma\n"
    "bsr 1x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 1x4: f32_bsr_minmax_1x4__neonfma\n"
    "bsr 1x8: f32_bsr_minmax_1x8__neonfma\n"
    "bsr 1x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x1: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x1: f32_bsr_minmax_4x1__neonfma\n"
    "bsr 4x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x4: f32_bsr_minmax_4x4__neonfma\n"
    "bsr 4x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x1: f32_bsr_minmax_8x1__neonfma\n"
    "bsr 8x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x1: f32_bsr_minmax_16x1__neonfma\n"
    "bsr 16x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x16: f32_bsr_minmax_rxc__neon\n"
    "csr: f32_csr_minmax__neonfma\n"
    "csr panels: f32_csr_panel_minmax_16x64__neonfma\n"
    "nm: f32_nm_minmax__neonfma\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__neonfma\n"
    "gs: f32_gs_minmax__neonfma\n"
    "vtaps: f32_conv3x3_vtaps_6x16__neonfma\n"
    "patdnn: f32_conv3x3_patdnn_4x16__neonfma\n"
    "dwconv3x3: f32_dwconv3x3_taps_4__neonfma\n"
    "pixvec: f32_conv_pixvec_32x4__neonfma\n",
    // sve
    "bsr 1x1: f32_bsr_minmax_1x1__sve\n"
    "bsr 1x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 1x4: f32_bsr_minmax_1x4__neonfma\n"
    "bsr 1x8: f32_bsr_minmax_1x8__neonfma\n"
    "bsr 1x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x1: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 2x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x1: f32_bsr_minmax_4x1__neonfma\n"
    "bsr 4x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x4: f32_bsr_minmax_4x4__neonfma\n"
    "bsr 4x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 4x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x1: f32_bsr_minmax_8x1__neonfma\n"
    "bsr 8x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 8x16: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x1: f32_bsr_minmax_16x1__neonfma\n"
    "bsr 16x2: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x4: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x8: f32_bsr_minmax_rxc__neon\n"
    "bsr 16x16: f32_bsr_minmax_rxc__neon\n"
    "csr: f32_csr_minmax__neonfma\n"
    "csr panels: f32_csr_panel_minmax_16x64__neonfma\n"
    "nm: f32_nm_minmax__neonfma\n"
    "nm row groups: f32_nm_rowgroup_minmax_16__neonfma\n"
    "gs: f32_gs_minmax__sve\n"
    "vtaps: f32_conv3x3_vtaps_6x16__neonfma\n"
    "patdnn: f32_conv3x3_patdnn_4x16__neonfma\n"
    "dwconv3x3: f32_dwconv3x3_taps_4__neonfma\n"
    "pixvec: f32_conv_pixvec_32x4__neonfma\n"};
#endif

TEST(IsaSelection, EveryFamilyEveryIsa) {
  if (std::getenv("TF_SPARSE_DUMP_ISA_SELECTION") != nullptr) {
    for (Isa isa : kIsas) {
      std::printf("==== %s\n%s", IsaName(isa), Selected(isa).c_str());
    }
  }
  for (size_t i = 0; i < sizeof(kIsas) / sizeof(kIsas[0]); ++i) {
    SCOPED_TRACE(IsaName(kIsas[i]));
    EXPECT_EQ(kExpected[i], Selected(kIsas[i]));
  }
}

}  // namespace
}  // namespace tf_sparse
