/* IOSTACK_API marks the functions libiostack.so.0 exports: the library is
 * built with hidden visibility, so only what carries this mark is seen
 * from outside (and its version script keeps it that way). */
#ifndef IOSTACK_EXPORT_H
#define IOSTACK_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define IOSTACK_API __attribute__((visibility("default")))
#else
#define IOSTACK_API
#endif

#endif /* IOSTACK_EXPORT_H */
