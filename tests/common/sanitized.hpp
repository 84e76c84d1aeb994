// Whether this test binary is built with AddressSanitizer or
// ThreadSanitizer. Tests that load iostack's drop-in libraries into other
// programs (fio, qemu-io, sysbench) skip there: sanitized and plain code
// cannot be mixed in one process.
#pragma once

namespace iostack::test {

constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// ThreadSanitizer cannot start threads in a child forked from a process
// that has threads ("starting new threads after multi-threaded fork is not
// supported"): tests whose forked children use iostack skip there.
constexpr bool kThreadSanitized =
#if defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

}  // namespace iostack::test

#define SKIP_IF_THREAD_SANITIZED()                                                    \
  do {                                                                                \
    if (::iostack::test::kThreadSanitized)                                            \
      GTEST_SKIP() << "ThreadSanitizer: no threads in a child of a threaded process"; \
  } while (0)

#define SKIP_IF_SANITIZED()                                                                     \
  do {                                                                                          \
    if (::iostack::test::kSanitized)                                                            \
      GTEST_SKIP() << "sanitizer build: the drop-ins and clients mix sanitized and plain code"; \
  } while (0)
