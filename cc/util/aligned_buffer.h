// A fixed-size, 64-byte aligned array of trivially copyable elements.
//
// Packed weights live in these so that every kernel may assume cache-line
// alignment of the values array and no two packed matrices share a line.
#ifndef TF_SPARSE_CC_UTIL_ALIGNED_BUFFER_H_
#define TF_SPARSE_CC_UTIL_ALIGNED_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace tf_sparse {

inline constexpr size_t kBufferAlignment = 64;

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable<T>::value,
                "AlignedBuffer holds plain data only");

 public:
  AlignedBuffer() = default;
  // Zero-initialised storage for n elements.
  explicit AlignedBuffer(size_t n) { Resize(n); }
  ~AlignedBuffer() { Free(); }

  AlignedBuffer(const AlignedBuffer& other) { *this = other; }
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) {
      Resize(other.size_);
      if (size_ != 0) std::memcpy(data_, other.data_, size_ * sizeof(T));
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&& other) noexcept { Swap(other); }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    Swap(other);
    return *this;
  }

  // Discards the contents; the new storage is zero-filled.
  void Resize(size_t n) {
    Free();
    data_ = nullptr;
    size_ = 0;
    if (n == 0) return;
    size_t bytes = n * sizeof(T);
    bytes = (bytes + kBufferAlignment - 1) / kBufferAlignment *
            kBufferAlignment;
    void* p = std::aligned_alloc(kBufferAlignment, bytes);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    data_ = static_cast<T*>(p);
    size_ = n;
#if defined(__SANITIZE_ADDRESS__)
    // The rounding to whole cache lines is not the caller's: under ASan an
    // access past element n - 1 is reported, not hidden by the padding.
    ASAN_POISON_MEMORY_REGION(data_ + n, bytes - n * sizeof(T));
#endif
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  void Free() {
#if defined(__SANITIZE_ADDRESS__)
    if (data_ != nullptr) {
      ASAN_UNPOISON_MEMORY_REGION(data_, (size_ * sizeof(T) + kBufferAlignment - 1) /
                                             kBufferAlignment * kBufferAlignment);
    }
#endif
    std::free(data_);
  }
  void Swap(AlignedBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_UTIL_ALIGNED_BUFFER_H_
