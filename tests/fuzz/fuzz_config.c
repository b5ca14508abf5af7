/* fuzz_config.c - the config parser: bh_config_parse() on arbitrary text,
 * bh_json_path_line() with arbitrary paths, bh_config_interpolate().
 *
 * Input: the whole input is parsed as a config file.  Its first line is
 * also taken as a JSON path ("plugins[2].config.mode") and looked up in
 * the rest, which is the line scanner's own contract: whatever bytes it is
 * fed, it never reads past the NUL and never recurses.
 */
#include <stdio.h>

#include "config.h"
#include "fuzz.h"

static const char *const paths[] = {
    "",
    "server",
    "server.listen",
    "plugins[0]",
    "plugins[1].config.mode",
    "[0]",
    "rate_limit.classes.default.burst",
    "storage.dsn",
    "a.b[3].c",
    "plugins[99999999999999999999]",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Interpolation reads the environment: give it one set and one unset. */
    setenv("BH_FUZZ_SET", "value", 1);
    unsetenv("BH_FUZZ_UNSET");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) /* the loader caps files at 16 MiB; keep runs fast */
        return 0;
    char err[BH_CONFIG_ERR_MAX];
    char *text = fuzz_cstr(data, size);

    bh_config *cfg = bh_config_parse(text, "fuzz.json", err, sizeof err);
    if (!cfg && strlen(err) >= sizeof err) /* messages are always terminated */
        abort();
    bh_config_free(cfg);

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int line = bh_json_path_line(text, paths[i]);
        if (line < 0)
            abort();
    }

    const uint8_t *rest;
    size_t rest_len;
    char *path = fuzz_first_line(data, size, &rest, &rest_len);
    char *doc = fuzz_cstr(rest, rest_len);
    if (bh_json_path_line(doc, path) < 0)
        abort();

    char *s = bh_config_interpolate(path, err, sizeof err);
    free(s);

    free(doc);
    free(path);
    free(text);
    return 0;
}
