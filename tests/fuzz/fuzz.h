/* fuzz.h - what every fuzz target in tests/fuzz/ shares.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput (and, when it needs
 * one-time setup, LLVMFuzzerInitialize).  The same file is built twice:
 * with clang -fsanitize=fuzzer,address,undefined by `make fuzz`
 * (scripts/fuzz.sh), and with the normal compiler against replay.c as
 * tests/fuzz/replay_<target>, which `make check` runs over the seed corpus
 * in tests/fuzz/<target>/corpus/ so that every input that once found a bug
 * stays a regression test.
 */
#ifndef BH_FUZZ_H
#define BH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (the parsers under test take C
 * strings; an embedded NUL just ends the string early, as it would after
 * evhttp or fopen).  Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Split off the first line: returns a malloc'd copy of it and points
 * *rest / *rest_len past the newline (or at the end). */
static inline char *fuzz_first_line(const uint8_t *data, size_t size, const uint8_t **rest,
                                    size_t *rest_len)
{
    const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
    size_t n = nl ? (size_t)(nl - data) : size;
    *rest = nl ? nl + 1 : data + size;
    *rest_len = size - n - (nl ? 1 : 0);
    return fuzz_cstr(data, n);
}

#endif
