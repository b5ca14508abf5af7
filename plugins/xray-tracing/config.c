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
 * key, a wrong type or an out-of-range value is an error naming the key
 * ("config.sampling.rate must be a number from 0 to 1"): the SDK's readers
 * (bilhetagem/config.h) check every key.
 */
#include <stdlib.h>
#include <string.h>

#include <bilhetagem/config.h>

#include "xray.h"

static const char *const top_keys[] = {"service_name", "daemon_address",  "origin", "sampling",
                                       "max_datagram", "max_subsegments", "emf",    NULL};
static const char *const sampling_keys[] = {"fixed_target", "rate", NULL};
static const char *const emf_keys[] = {"enabled", "namespace", "flush_interval_ms", "max_routes",
                                       NULL};

static int parse_sampling(const bh_config_reader *top, xr_config *c)
{
    bh_config_reader s;
    int64_t target;
    if (bh_config_object(top, "sampling", &s) || bh_config_only_keys(&s, sampling_keys, NULL) ||
        bh_config_int(&s, "fixed_target", 1, 0, 1000000, &target) ||
        bh_config_number(&s, "rate", 0.05, 0, 1, &c->rate))
        return -1;
    c->fixed_target = (int)target;
    return 0;
}

static int parse_emf(const bh_config_reader *top, xr_config *c)
{
    bh_config_reader e;
    int64_t flush, routes;
    if (bh_config_object(top, "emf", &e) || bh_config_only_keys(&e, emf_keys, NULL) ||
        bh_config_bool(&e, "enabled", 0, &c->emf_enabled) ||
        bh_config_int(&e, "flush_interval_ms", 60000, 100, 3600000, &flush) ||
        bh_config_int(&e, "max_routes", 200, 1, 10000, &routes) ||
        bh_config_string_copy(&e, "namespace", BH_CONFIG_ASCII, 1, 255, "Bilhetagem",
                              &c->emf_namespace))
        return -1;
    c->emf_flush_ms = flush;
    c->emf_max_routes = (size_t)routes;
    return 0;
}

/* The environment wins over the file, as it does for the AWS X-Ray SDKs. */
static int apply_environment(xr_config *c)
{
    const char *env_name = getenv("AWS_XRAY_TRACING_NAME");
    const char *env_addr = getenv("AWS_XRAY_DAEMON_ADDRESS");
    if (env_name && *env_name && strlen(env_name) <= XR_NAME_MAX) {
        free(c->service_name);
        c->service_name = strdup(env_name);
    }
    if (env_addr && *env_addr) {
        free(c->daemon_address);
        c->daemon_address = strdup(env_addr);
    }
    return c->service_name && c->daemon_address ? 0 : -1;
}

int xr_config_parse(const json_t *config, xr_config *c, char *err, size_t errlen)
{
    bh_config_reader cfg;
    int64_t datagram, subs;
    memset(c, 0, sizeof *c);
    if (bh_config_begin(&cfg, config, err, errlen) || bh_config_only_keys(&cfg, top_keys, NULL) ||
        bh_config_string_copy(&cfg, "service_name", BH_CONFIG_ASCII, 1, XR_NAME_MAX, "bilhetagem",
                              &c->service_name) ||
        bh_config_string_copy(&cfg, "daemon_address", BH_CONFIG_ASCII, 1, 255, XR_DEFAULT_DAEMON,
                              &c->daemon_address) ||
        bh_config_string_copy(&cfg, "origin", BH_CONFIG_ASCII, 1, 64, NULL, &c->origin) ||
        bh_config_int(&cfg, "max_datagram", XR_DATAGRAM_DEFAULT, 1024, 65000, &datagram) ||
        bh_config_int(&cfg, "max_subsegments", 500, 1, 10000, &subs) || parse_sampling(&cfg, c) ||
        parse_emf(&cfg, c)) {
        xr_config_free(c);
        return -1;
    }
    c->max_datagram = (int)datagram;
    c->max_subsegments = (int)subs;
    if (apply_environment(c) != 0) {
        xr_config_free(c);
        return bh_config_fail(&cfg, "out of memory");
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
