/* counters.h - the core side of the domain counters in bilhetagem/util.h. */
#ifndef BH_COUNTERS_H
#define BH_COUNTERS_H

#include "core.h"

struct evbuffer;

/* Append every counter as Prometheus text (bilhetagem_<name>_total). */
void bh_counters_render(struct evbuffer *out);

/* Free the declarations (at exit). */
void bh_counters_free(bh_app *app);

#endif
