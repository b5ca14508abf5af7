/* bilhetagem/bilhetagem.h - the whole public SDK in one include.
 *
 * A plugin includes this header (or the individual ones) and nothing else
 * of the Bilhetagem tree.  See docs/plugin-guide.md.
 *
 *   plugin.h    the descriptor, lifecycle, errors, services
 *   http.h      routes, requests, responses, hooks, the principal
 *   events.h    units of work, publishing and subscribing to events
 *   db.h        parameterized SQL in the unit's transaction, migrations
 *   log.h       structured logging
 *   util.h      random ids, RFC 3339 time, domain counters
 *   config.h    reading the plugin's "config" object strictly
 *   tasks.h     periodic background tasks and bilhetagemctl commands
 *   trace.h     tracing spans, the X-Ray trace header, the tracer
 */
#ifndef BILHETAGEM_BILHETAGEM_H
#define BILHETAGEM_BILHETAGEM_H

#include <bilhetagem/plugin.h>
#include <bilhetagem/http.h>
#include <bilhetagem/events.h>
#include <bilhetagem/db.h>
#include <bilhetagem/log.h>
#include <bilhetagem/util.h>
#include <bilhetagem/config.h>
#include <bilhetagem/tasks.h>
#include <bilhetagem/trace.h>

#endif
