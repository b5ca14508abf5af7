/* fuzz_trace_header.c - the X-Ray trace header parser (core/trace.c) that
 * reads X-Amzn-Trace-Id from every request the tracing plugin sees and from
 * every event's awstraceheader.
 *
 * Input: the header value.  Checks, besides memory safety: a parse that
 * succeeds yields a well-formed root (and parent), formats back into a
 * header that parses to the same fields, and a failed parse leaves nothing
 * behind.
 */
#include "core.h"
#include "fuzz.h"

static void check_ctx(const bh_trace_ctx *c)
{
    if (strlen(c->root) != 35 || c->root[0] != '1' || c->root[1] != '-' || c->root[10] != '-')
        abort();
    for (size_t i = 2; i < 35; i++)
        if (i != 10 && !strchr("0123456789abcdef", c->root[i]))
            abort();
    size_t pn = strlen(c->parent);
    if (pn != 0 && pn != 16)
        abort();
    if (c->sampled < -1 || c->sampled > 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    bh_trace_ctx c;
    if (bh_trace_header_parse(text, &c) == 0) {
        check_ctx(&c);
        char out[BH_TRACE_HEADER_MAX];
        bh_trace_ctx again;
        if (bh_trace_header_format(&c, out, sizeof out) != 0 ||
            bh_trace_header_parse(out, &again) != 0 || memcmp(&c, &again, sizeof c) != 0)
            abort();
        char tiny[8];
        if (bh_trace_header_format(&c, tiny, sizeof tiny) == 0)
            abort(); /* never fits: must refuse, not truncate */
    } else if (c.root[0] || c.parent[0] || c.sampled != -1) {
        abort();
    }
    free(text);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
