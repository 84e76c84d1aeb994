// Clang thread-safety analysis attributes (-Wthread-safety); empty on other compilers.
#pragma once

// The lock rules are stated on the declarations and the compiler checks
// them: a mutex is a CAPABILITY, data it protects is GUARDED_BY it, a
// function that must be called with it held REQUIRES it, one that takes it
// itself EXCLUDES it. See clang's ThreadSafetyAnalysis documentation.
#if defined(__clang__)
#define IOSTACK_TSA(x) __attribute__((x))
#else
#define IOSTACK_TSA(x)
#endif

#define CAPABILITY(x) IOSTACK_TSA(capability(x))
#define SCOPED_CAPABILITY IOSTACK_TSA(scoped_lockable)
#define GUARDED_BY(x) IOSTACK_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) IOSTACK_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) IOSTACK_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) IOSTACK_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) IOSTACK_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) IOSTACK_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) IOSTACK_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) IOSTACK_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) IOSTACK_TSA(try_acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) IOSTACK_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) IOSTACK_TSA(release_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) IOSTACK_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) IOSTACK_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) IOSTACK_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS IOSTACK_TSA(no_thread_safety_analysis)
