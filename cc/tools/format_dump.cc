// format_dump: packs a dense float32 matrix with one of the C++ packers of
// cc/formats and writes every field of the packed struct to files, so that a
// test can compare them byte for byte with the Python reference encoders in
// tf_sparse/formats (tests/test_formats_cpp.py; the contract both follow is
// docs/formats.md).
//
// Usage:
//   format_dump --format=csr --rows=R --cols=C --in=w.bin --out=DIR
//   format_dump --format=bsr --rows=R --cols=C --block=RxC --in=... --out=...
//   format_dump --format=nm  --rows=R --cols=C --n=N --m=M --in=... --out=...
//   format_dump --format=gs  --rows=R --cols=C --banks=B --e=E --in=...
//                --out=...
//   format_dump --format=fkw --out_channels=O --in_channels=I --in=...
//                --out=...
//
// Input: little-endian float32, row-major W[rows][cols] (the GEMM view); for
// fkw TFLite's CONV_2D filter W[out][3][3][in] (OHWI). The file size must be
// exactly 4 * element count.
//
// Output, in DIR (created if missing): one raw little-endian file per array,
// named after the field of docs/formats.md (`row_ptr.bin`, `col_idx.bin`,
// `values.bin`, ...; no alignment padding), and `header.json` with the scalar
// fields plus, under "arrays", the dtype ("<i4", "<u2", "<u4", "<f4") and
// element count of every array file. col_idx is written in the width the
// packer chose (index_bytes), so the index width is compared too.
//
// Exit status: 0 on success, 2 for bad arguments, 1 when the input cannot be
// read, the packer rejects the weights (its message is printed) or the
// output cannot be written.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "cc/formats/bsr.h"
#include "cc/formats/csr.h"
#include "cc/formats/gs.h"
#include "cc/formats/nm.h"
#include "cc/formats/patdnn.h"

namespace tf_sparse {
namespace {

constexpr int kUsageError = 2;
constexpr int kRunError = 1;

const char kUsage[] =
    "usage: format_dump --format=csr|bsr|nm|gs|fkw --in=FILE --out=DIR\n"
    "         csr: --rows=R --cols=C\n"
    "         bsr: --rows=R --cols=C --block=RxC\n"
    "         nm:  --rows=R --cols=C --n=N --m=M\n"
    "         gs:  --rows=R --cols=C --banks=B --e=E   (untiled)\n"
    "         fkw: --out_channels=O --in_channels=I    (OHWI [O][3][3][I])\n"
    "  FILE holds little-endian float32 weights; DIR receives one .bin per\n"
    "  array of docs/formats.md and header.json.\n";

// Thrown for bad command lines (exit 2) and for run-time failures (exit 1).
struct UsageError {
  std::string message;
};
struct RunError {
  std::string message;
};

// A positive int from a decimal string; the whole string must be consumed.
int ParsePositive(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE ||
      v < 1 || v > 0x7fffffffLL) {
    throw UsageError{"--" + name + " must be a positive integer, got '" +
                     text + "'"};
  }
  return static_cast<int>(v);
}

class Flags {
 public:
  Flags(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") throw UsageError{""};
      const size_t eq = arg.find('=');
      if (arg.compare(0, 2, "--") != 0 || eq == std::string::npos) {
        throw UsageError{"expected --name=value, got '" + arg + "'"};
      }
      const std::string name = arg.substr(2, eq - 2);
      if (values_.count(name) != 0) {
        throw UsageError{"--" + name + " given twice"};
      }
      values_[name] = arg.substr(eq + 1);
    }
  }
  // Every flag given must be one the chosen format reads (typos fail loudly
  // instead of silently falling back to a default).
  void AllowOnly(const std::set<std::string>& allowed,
                 const std::string& format) const {
    for (const auto& kv : values_) {
      if (allowed.count(kv.first) == 0) {
        throw UsageError{"--" + kv.first + " is not an option of --format=" +
                         format};
      }
    }
  }
  std::string Str(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) {
      throw UsageError{"missing --" + name};
    }
    return it->second;
  }
  int Int(const std::string& name) const {
    return ParsePositive(name, Str(name));
  }

 private:
  std::map<std::string, std::string> values_;
};

std::vector<float> ReadFloats(const std::string& path, int64_t count) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw RunError{"cannot open input '" + path + "'"};
  const int64_t size = static_cast<int64_t>(in.tellg());
  if (size != 4 * count) {
    throw RunError{"input '" + path + "' has " + std::to_string(size) +
                   " bytes, expected " + std::to_string(4 * count) + " (" +
                   std::to_string(count) + " float32)"};
  }
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw RunError{"cannot read input '" + path + "'"};
  }
  std::vector<float> w(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    // Little-endian by definition of the file, whatever the host order.
    const uint32_t u = static_cast<uint32_t>(bytes[4 * i]) |
                       static_cast<uint32_t>(bytes[4 * i + 1]) << 8 |
                       static_cast<uint32_t>(bytes[4 * i + 2]) << 16 |
                       static_cast<uint32_t>(bytes[4 * i + 3]) << 24;
    std::memcpy(&w[i], &u, 4);
  }
  return w;
}

template <typename T>
const char* DtypeOf() {
  if (std::is_same<T, float>::value) return "<f4";
  if (std::is_same<T, int32_t>::value) return "<i4";
  if (std::is_same<T, uint32_t>::value) return "<u4";
  if (std::is_same<T, uint16_t>::value) return "<u2";
  return "?";
}

// Collects the arrays and scalars of one packed matrix and writes them.
class Dump {
 public:
  explicit Dump(std::string dir) : dir_(std::move(dir)) {
    if (::mkdir(dir_.c_str(), 0777) != 0 && errno != EEXIST) {
      throw RunError{"cannot create output directory '" + dir_ +
                     "': " + std::strerror(errno)};
    }
  }

  void Scalar(const std::string& name, int64_t v) {
    scalars_.push_back({name, std::to_string(v)});
  }
  void Text(const std::string& name, const std::string& v) {
    scalars_.push_back({name, "\"" + v + "\""});
  }

  template <typename T>
  void Array(const std::string& name, const T* data, size_t count) {
    static_assert(sizeof(T) == 2 || sizeof(T) == 4, "2- or 4-byte elements");
    std::vector<unsigned char> bytes(count * sizeof(T));
    for (size_t i = 0; i < count; ++i) {
      uint32_t u = 0;
      if (sizeof(T) == 2) {
        uint16_t h;
        std::memcpy(&h, &data[i], 2);
        u = h;
      } else {
        std::memcpy(&u, &data[i], 4);
      }
      for (size_t b = 0; b < sizeof(T); ++b) {
        bytes[i * sizeof(T) + b] = static_cast<unsigned char>(u >> (8 * b));
      }
    }
    const std::string path = dir_ + "/" + name + ".bin";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out ||
        !out.write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()))) {
      throw RunError{"cannot write '" + path + "'"};
    }
    arrays_.push_back({name, DtypeOf<T>(), count});
  }
  template <typename Buffer>
  void Buf(const std::string& name, const Buffer& b) {
    Array(name, b.data(), b.size());
  }

  void Finish() const {
    std::ostringstream json;
    json << "{\n";
    for (const auto& s : scalars_) {
      json << "  \"" << s.first << "\": " << s.second << ",\n";
    }
    json << "  \"arrays\": {";
    for (size_t i = 0; i < arrays_.size(); ++i) {
      json << (i ? ",\n" : "\n") << "    \"" << arrays_[i].name
           << "\": {\"dtype\": \"" << arrays_[i].dtype
           << "\", \"count\": " << arrays_[i].count << "}";
    }
    json << "\n  }\n}\n";
    const std::string path = dir_ + "/header.json";
    std::ofstream out(path, std::ios::trunc);
    if (!out || !(out << json.str())) {
      throw RunError{"cannot write '" + path + "'"};
    }
  }

 private:
  struct ArrayInfo {
    std::string name;
    const char* dtype;
    size_t count;
  };
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> scalars_;
  std::vector<ArrayInfo> arrays_;
};

// "RxC" -> (r, c).
void ParseBlock(const std::string& text, int* r, int* c) {
  const size_t x = text.find('x');
  if (x == std::string::npos) {
    throw UsageError{"--block must be RxC (e.g. 1x4), got '" + text + "'"};
  }
  *r = ParsePositive("block", text.substr(0, x));
  *c = ParsePositive("block", text.substr(x + 1));
}

// Pack* throw std::invalid_argument for shapes they reject; that is a run
// error whose message the caller prints as is.
void DumpCsr(const Flags& f, Dump* d) {
  const int rows = f.Int("rows"), cols = f.Int("cols");
  const std::vector<float> w =
      ReadFloats(f.Str("in"), static_cast<int64_t>(rows) * cols);
  const CsrMatrix m = PackCsr(w.data(), rows, cols);
  d->Text("format", "csr");
  d->Scalar("rows", m.rows);
  d->Scalar("cols", m.cols);
  d->Scalar("index_bytes", m.index_bytes);
  d->Scalar("nnz", m.nnz());
  d->Buf("row_ptr", m.row_ptr);
  if (m.index_bytes == 2) {
    d->Buf("col_idx", m.col_idx16);
  } else {
    d->Buf("col_idx", m.col_idx32);
  }
  d->Buf("values", m.values);
}

void DumpBsr(const Flags& f, Dump* d) {
  const int rows = f.Int("rows"), cols = f.Int("cols");
  int r = 0, c = 0;
  ParseBlock(f.Str("block"), &r, &c);
  // Check before reading rows * cols floats of a shape that cannot pack.
  const std::string problem = CheckBsrShape(rows, cols, r, c);
  if (!problem.empty()) throw RunError{"PackBsr: " + problem};
  const std::vector<float> w =
      ReadFloats(f.Str("in"), static_cast<int64_t>(rows) * cols);
  const BsrMatrix m = PackBsr(w.data(), rows, cols, r, c);
  d->Text("format", "bsr");
  d->Scalar("rows", m.rows);
  d->Scalar("cols", m.cols);
  d->Scalar("block_height", m.block_height);
  d->Scalar("block_width", m.block_width);
  d->Scalar("index_bytes", m.index_bytes);
  d->Scalar("num_block_rows", m.num_block_rows);
  d->Scalar("padded_rows", m.padded_rows);
  d->Scalar("padded_cols", m.padded_cols);
  d->Scalar("num_blocks", m.num_blocks());
  d->Buf("row_ptr", m.row_ptr);
  if (m.index_bytes == 2) {
    d->Buf("col_idx", m.col_idx16);
  } else {
    d->Buf("col_idx", m.col_idx32);
  }
  d->Buf("values", m.values);
}

void DumpNm(const Flags& f, Dump* d) {
  const int rows = f.Int("rows"), cols = f.Int("cols");
  const int n = f.Int("n"), m = f.Int("m");
  const std::string problem = CheckNmShape(rows, cols, n, m);
  if (!problem.empty()) throw RunError{"PackNm: " + problem};
  const std::vector<float> w =
      ReadFloats(f.Str("in"), static_cast<int64_t>(rows) * cols);
  const NmMatrix p = PackNm(w.data(), rows, cols, n, m);
  d->Text("format", "nm");
  d->Scalar("rows", p.rows);
  d->Scalar("cols", p.cols);
  d->Scalar("n", p.n);
  d->Scalar("m", p.m);
  d->Scalar("index_bits", p.index_bits);
  d->Scalar("padded_groups", p.padded_groups);
  d->Scalar("padded_cols", p.padded_cols);
  d->Scalar("kept_per_row", p.kept_per_row);
  d->Scalar("words_per_row", p.words_per_row);
  d->Buf("values", p.values);
  d->Buf("positions", p.positions);
}

void DumpGs(const Flags& f, Dump* d) {
  const int rows = f.Int("rows"), cols = f.Int("cols");
  const int banks = f.Int("banks"), e = f.Int("e");
  const std::string problem = CheckGsShape(rows, cols, banks, e);
  if (!problem.empty()) throw RunError{"PackGs: " + problem};
  const std::vector<float> w =
      ReadFloats(f.Str("in"), static_cast<int64_t>(rows) * cols);
  const GsMatrix m = PackGs(w.data(), rows, cols, banks, e);
  d->Text("format", "gs");
  d->Scalar("rows", m.rows);
  d->Scalar("cols", m.cols);
  d->Scalar("B", m.banks);
  d->Scalar("e", m.elements_per_row);
  d->Scalar("tile_rows", 0);  // PackGs is the untiled layout.
  d->Scalar("tile_cols", 0);
  d->Scalar("index_bytes", m.index_bytes);
  d->Scalar("row_index_bytes", 0);
  d->Scalar("rows_per_group", m.rows_per_group);
  d->Scalar("num_groups", m.num_groups);
  d->Scalar("num_packs", m.num_packs());
  d->Buf("group_ptr", m.group_ptr);
  d->Buf("values", m.values);
  if (m.index_bytes == 2) {
    d->Buf("col_idx", m.col_idx16);
  } else {
    d->Buf("col_idx", m.col_idx32);
  }
}

void DumpFkw(const Flags& f, Dump* d) {
  const int out = f.Int("out_channels"), in = f.Int("in_channels");
  const std::vector<float> w =
      ReadFloats(f.Str("in"), static_cast<int64_t>(out) * 9 * in);
  PatdnnWeights p;
  std::string error;
  if (!PackPatdnn(w.data(), out, in, &p, nullptr, &error)) {
    throw RunError{"PackPatdnn: " + error};
  }
  d->Text("format", "fkw");
  d->Scalar("out", p.out_channels);
  d->Scalar("in", p.in_channels);
  d->Scalar("P", p.num_patterns());
  d->Scalar("nnzk", p.num_kernels());
  d->Array("patterns", p.patterns.data(), p.patterns.size());
  d->Array("reorder", p.reorder.data(), p.reorder.size());
  d->Array("offset", p.offset.data(), p.offset.size());
  d->Array("index", p.index.data(), p.index.size());
  d->Array("stride", p.stride.data(), p.stride.size());
  d->Array("weight", p.weight.data(), p.weight.size());
}

int Main(int argc, char** argv) {
  try {
    const Flags flags(argc, argv);
    const std::string format = flags.Str("format");
    std::set<std::string> allowed = {"format", "in", "out"};
    void (*dump)(const Flags&, Dump*) = nullptr;
    if (format == "csr") {
      allowed.insert({"rows", "cols"});
      dump = DumpCsr;
    } else if (format == "bsr") {
      allowed.insert({"rows", "cols", "block"});
      dump = DumpBsr;
    } else if (format == "nm") {
      allowed.insert({"rows", "cols", "n", "m"});
      dump = DumpNm;
    } else if (format == "gs") {
      allowed.insert({"rows", "cols", "banks", "e"});
      dump = DumpGs;
    } else if (format == "fkw") {
      allowed.insert({"out_channels", "in_channels"});
      dump = DumpFkw;
    } else {
      throw UsageError{"unknown --format '" + format +
                       "' (csr, bsr, nm, gs or fkw)"};
    }
    flags.AllowOnly(allowed, format);
    flags.Str("in");  // Both paths are required whatever the format.
    Dump d(flags.Str("out"));
    dump(flags, &d);
    d.Finish();
    return 0;
  } catch (const UsageError& e) {
    if (!e.message.empty()) {
      std::fprintf(stderr, "format_dump: %s\n", e.message.c_str());
    }
    std::fputs(kUsage, stderr);
    return e.message.empty() ? 0 : kUsageError;
  } catch (const RunError& e) {
    std::fprintf(stderr, "format_dump: %s\n", e.message.c_str());
    return kRunError;
  } catch (const std::exception& e) {
    // The packers' std::invalid_argument (bad shape, N:M group overfull...).
    std::fprintf(stderr, "format_dump: %s\n", e.what());
    return kRunError;
  }
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
