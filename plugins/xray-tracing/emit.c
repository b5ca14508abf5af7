/* emit.c - segments to the X-Ray daemon over UDP.
 *
 * The daemon reads datagrams of a JSON header line and a document:
 *     {"format":"json","version":1}\n{...segment...}
 * One non-blocking, unconnected socket per process; any worker sends on it
 * (a datagram is written whole, so threads never interleave).  Nothing ever
 * waits: a full socket buffer drops the datagram (counted), and with no
 * daemon listening the kernel discards them (an unconnected socket never
 * sees the ICMP "port unreachable").  So tracing costs a request one
 * serialization and one sendto(), daemon or not.
 *
 * A document over max_datagram is split the way the X-Ray SDKs stream
 * large segments: each subsegment goes as its own document ("type":
 * "subsegment", with trace_id and parent_id), recursively when a
 * subsegment is itself too large, then the segment without them.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xray.h"

#define DATAGRAM_MAX 65507 /* UDP over IPv4 */

/* "udp:host:port tcp:host:port" -> the udp one; "host:port" as is. */
static int pick_address(const char *address, char *host, size_t hostlen, char *port, size_t portlen)
{
    /* "udp:" / "tcp:" only at the start of a word, so that a host named
     * "xray-udp" or "mytcp" is a host */
    const char *tok = address, *udp = NULL, *tcp = NULL;
    for (const char *w = address; *w; w += strcspn(w, " \t"), w += strspn(w, " \t")) {
        if (!strncmp(w, "udp:", 4) && !udp)
            udp = w;
        else if (!strncmp(w, "tcp:", 4) && !tcp)
            tcp = w;
        if (!*w)
            break;
    }
    if (udp)
        tok = udp + 4;
    else if (tcp)
        return -1; /* only a TCP address: nothing to send UDP to */
    size_t n = strcspn(tok, " \t");
    char buf[256];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *colon = strrchr(buf, ':');
    if (!colon || colon == buf || !colon[1])
        return -1;
    *colon = '\0';
    char *h = buf;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { /* [::1]:2000 */
        h[hl - 1] = '\0';
        h++;
    }
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (strlen(h) >= hostlen || strlen(colon + 1) >= portlen || atoi(colon + 1) < 1 ||
        atoi(colon + 1) > 65535)
        return -1;
    strcpy(host, h);
    strcpy(port, colon + 1);
    return 0;
}

int xr_emitter_open(xr_emitter *e, const char *address, int max_datagram, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->fd = -1;
    e->max_datagram = max_datagram > DATAGRAM_MAX ? DATAGRAM_MAX : max_datagram;
    json_t *h = json_pack("{s:s, s:i}", "format", "json", "version", 1);
    size_t hl = h ? json_dumpb(h, e->header, sizeof e->header - 1, JSON_COMPACT) : 0;
    json_decref(h);
    if (hl == 0 || hl >= sizeof e->header - 1) {
        snprintf(err, errlen, "cannot build the daemon header line");
        return -1;
    }
    e->header[hl] = '\n';
    e->header_len = hl + 1;
    char host[256], port[8];
    if (pick_address(address, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "daemon address \"%.100s\": expected host:port or udp:host:port",
                 address);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "daemon address %.100s: %s", address, gai_strerror(rc));
        return -1;
    }
    e->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e->fd < 0) {
        snprintf(err, errlen, "UDP socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    memcpy(&e->addr, res->ai_addr, res->ai_addrlen);
    e->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void xr_emitter_close(xr_emitter *e)
{
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
}

/* Header line + doc into buf; 0 when it is over the limit. */
static size_t frame(const xr_emitter *e, const json_t *doc, char *buf)
{
    size_t hl = e->header_len;
    memcpy(buf, e->header, hl);
    size_t n = json_dumpb(doc, buf + hl, (size_t)e->max_datagram - hl, JSON_COMPACT);
    if (n == 0 || n > (size_t)e->max_datagram - hl)
        return 0;
    return hl + n;
}

static int send_frame(xr_emitter *e, const char *buf, size_t len)
{
    if (e->fd < 0)
        return 0;
    if (sendto(e->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&e->addr,
               e->addrlen) == (ssize_t)len) {
        atomic_fetch_add_explicit(&e->sent, 1, memory_order_relaxed);
        return 1;
    }
    atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
    return 0;
}

/* Send doc (already shaped as a segment or an independent subsegment). */
static int emit_doc(xr_emitter *e, const json_t *doc, const char *trace_id, char *buf, int depth)
{
    size_t len = frame(e, doc, buf);
    if (len)
        return send_frame(e, buf, len);
    const json_t *subs = json_object_get(doc, "subsegments");
    if (!json_array_size(subs) || depth > 32) { /* cannot split further */
        atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
        return 0;
    }
    int sent = 0;
    const char *parent_id = json_string_value(json_object_get(doc, "id"));
    size_t i;
    const json_t *child;
    json_array_foreach(subs, i, child) {
        json_t *alone = json_copy((json_t *)child); /* shallow: shares the values */
        if (!alone)
            continue;
        json_object_set_new(alone, "type", json_string("subsegment"));
        json_object_set_new(alone, "trace_id", json_string(trace_id));
        json_object_set_new(alone, "parent_id", json_string(parent_id));
        sent += emit_doc(e, alone, trace_id, buf, depth + 1);
        json_decref(alone);
    }
    json_t *bare = json_copy((json_t *)doc);
    if (bare) {
        json_object_del(bare, "subsegments");
        len = frame(e, bare, buf);
        if (len)
            sent += send_frame(e, buf, len);
        else
            atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
        json_decref(bare);
    }
    return sent;
}

int xr_emit(xr_emitter *e, const bh_span *root)
{
    if (e->fd < 0)
        return 0; /* no daemon address: nothing to serialize for */
    char *buf = malloc((size_t)e->max_datagram + 1);
    if (!buf)
        return 0;
    int sent = emit_doc(e, root->doc, xr_trace_of(root), buf, 0);
    free(buf);
    return sent;
}
