/* problem.c - RFC 9457 problem details and HTTP reason phrases.
 *
 * Every error the server answers is a problem+json object built here:
 *   {"type": "https://bilhetagem.dev/problems/<slug>", "title", "status",
 *    "detail", "instance": "<request id>"}
 * The slugs are a stable, documented contract (docs/api.md); clients switch
 * on `type`, not on `title` or `detail`.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

#define BH_PROBLEM_BASE "https://bilhetagem.dev/problems/"

json_t *bh_problem_new(int status, const char *type, const char *title, const char *detail,
                       const char *instance)
{
    char uri[160];
    if (type)
        snprintf(uri, sizeof uri, "%s%s", BH_PROBLEM_BASE, type);
    else
        snprintf(uri, sizeof uri, "about:blank"); /* RFC 9457 section 4.2.1 */
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string(uri));
    json_object_set_new(p, "title", json_string(title ? title : bh_status_reason(status)));
    json_object_set_new(p, "status", json_integer(status));
    if (detail) {
        json_t *d = json_string(detail);
        json_object_set_new(p, "detail", d ? d : json_string("(detail not valid UTF-8)"));
    }
    if (instance)
        json_object_set_new(p, "instance", json_string(instance));
    return p;
}

const char *bh_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}
