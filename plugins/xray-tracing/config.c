/* config.c - the xray-tracing plugin's "config" object, checked strictly.
 *
 *   {"service_name": "bilhetagem",
 *    "daemon_address": "127.0.0.1:2000",
 *    "origin": "AWS::ECS::Container",
 *    "sampling": {"fixed_target": 1, "rate": 0.05},
 *    "max_datagram": 64000, "max_subsegments": 500,
 *    "emf": {"enabled": false, "namespace": "Bilhetagem",
 *            "flush_interval_ms": 60000, "max_routes": 200}}
 *
 * Every key is optional.  AWS_XRAY_DAEMON_ADDRESS and AWS_XRAY_TRACING_NAME
 * in the environment win over the file, as they do for the AWS X-Ray SDKs,
 * so one image runs with whatever the ECS task definition sets.  An unknown
 * key, a wrong type or an out-of-range value is an error naming the key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xray.h"

static const char *const top_keys[] = {"$comment",        "service_name", "daemon_address",
                                       "origin",          "sampling",     "max_datagram",
                                       "max_subsegments", "emf",          NULL};
static const char *const sampling_keys[] = {"$comment", "fixed_target", "rate", NULL};
static const char *const emf_keys[] = {"$comment",          "enabled",    "namespace",
                                       "flush_interval_ms", "max_routes", NULL};

BH_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int only_keys(const json_t *obj, const char *const *allowed, const char *where, char *err,
                     size_t errlen)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key))
            i++;
        if (!allowed[i])
            return fail(err, errlen, "config.%s%s: unknown key", where, key);
    }
    return 0;
}

/* A string of 1..max bytes of printable ASCII, or absent (*out = def). */
static int get_str(const json_t *obj, const char *key, const char *where, size_t max,
                   const char *def, char **out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    const char *s = def;
    if (v) {
        if (!json_is_string(v))
            return fail(err, errlen, "config.%s%s: must be a string", where, key);
        s = json_string_value(v);
        size_t n = strlen(s);
        if (n == 0 || n > max)
            return fail(err, errlen, "config.%s%s: must be 1 to %zu characters", where, key, max);
        for (size_t i = 0; i < n; i++)
            if (s[i] < 0x20 || s[i] > 0x7e)
                return fail(err, errlen, "config.%s%s: must be printable ASCII", where, key);
    }
    *out = s ? strdup(s) : NULL;
    if (s && !*out)
        return fail(err, errlen, "out of memory");
    return 0;
}

static int get_int(const json_t *obj, const char *key, const char *where, int64_t lo, int64_t hi,
                   int64_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "config.%s%s: must be an integer from %lld to %lld", where, key,
                    (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static int get_object(const json_t *obj, const char *key, const json_t **out, char *err,
                      size_t errlen)
{
    *out = json_object_get(obj, key);
    if (*out && !json_is_object(*out))
        return fail(err, errlen, "config.%s: must be an object", key);
    return 0;
}

static int parse_sampling(const json_t *s, xr_config *c, char *err, size_t errlen)
{
    if (!s)
        return 0;
    if (only_keys(s, sampling_keys, "sampling.", err, errlen))
        return -1;
    int64_t target = c->fixed_target;
    if (get_int(s, "fixed_target", "sampling.", 0, 1000000, &target, err, errlen))
        return -1;
    c->fixed_target = (int)target;
    const json_t *rate = json_object_get(s, "rate");
    if (rate) {
        if (!json_is_number(rate) || json_number_value(rate) < 0 || json_number_value(rate) > 1)
            return fail(err, errlen, "config.sampling.rate: must be a number from 0 to 1");
        c->rate = json_number_value(rate);
    }
    return 0;
}

static int parse_emf(const json_t *e, xr_config *c, char *err, size_t errlen)
{
    if (e && only_keys(e, emf_keys, "emf.", err, errlen))
        return -1;
    const json_t *en = e ? json_object_get(e, "enabled") : NULL;
    if (en && !json_is_boolean(en))
        return fail(err, errlen, "config.emf.enabled: must be true or false");
    c->emf_enabled = en && json_is_true(en);
    int64_t flush = 60000, routes = 200;
    if (e && (get_int(e, "flush_interval_ms", "emf.", 100, 3600000, &flush, err, errlen) ||
              get_int(e, "max_routes", "emf.", 1, 10000, &routes, err, errlen)))
        return -1;
    c->emf_flush_ms = flush;
    c->emf_max_routes = (size_t)routes;
    return get_str(e, "namespace", "emf.", 255, "Bilhetagem", &c->emf_namespace, err, errlen);
}

int xr_config_parse(const json_t *config, xr_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fixed_target = 1;
    c->rate = 0.05;
    c->max_datagram = XR_DATAGRAM_DEFAULT;
    c->max_subsegments = 500;
    if (!json_is_object(config))
        return fail(err, errlen, "config: must be an object");
    if (only_keys(config, top_keys, "", err, errlen))
        return -1;
    const char *env_name = getenv("AWS_XRAY_TRACING_NAME");
    const char *env_addr = getenv("AWS_XRAY_DAEMON_ADDRESS");
    const json_t *sampling, *emf;
    int64_t datagram = c->max_datagram, subs = c->max_subsegments;
    if (get_str(config, "service_name", "", XR_NAME_MAX, "bilhetagem", &c->service_name, err,
                errlen) ||
        get_str(config, "daemon_address", "", 255, XR_DEFAULT_DAEMON, &c->daemon_address, err,
                errlen) ||
        get_str(config, "origin", "", 64, NULL, &c->origin, err, errlen) ||
        get_int(config, "max_datagram", "", 1024, 65000, &datagram, err, errlen) ||
        get_int(config, "max_subsegments", "", 1, 10000, &subs, err, errlen) ||
        get_object(config, "sampling", &sampling, err, errlen) ||
        get_object(config, "emf", &emf, err, errlen) || parse_sampling(sampling, c, err, errlen) ||
        parse_emf(emf, c, err, errlen)) {
        xr_config_free(c);
        return -1;
    }
    c->max_datagram = (int)datagram;
    c->max_subsegments = (int)subs;
    if (env_name && *env_name && strlen(env_name) <= XR_NAME_MAX) {
        free(c->service_name);
        c->service_name = strdup(env_name);
    }
    if (env_addr && *env_addr) {
        free(c->daemon_address);
        c->daemon_address = strdup(env_addr);
    }
    if (!c->service_name || !c->daemon_address) {
        xr_config_free(c);
        return fail(err, errlen, "out of memory");
    }
    return 0;
}

void xr_config_free(xr_config *c)
{
    free(c->service_name);
    free(c->daemon_address);
    free(c->origin);
    free(c->emf_namespace);
    memset(c, 0, sizeof *c);
}
