/* openapi.c - the OpenAPI 3.1 operation fragments of the order plugin's
 * routes (static JSON text, checked by bh_route_add and linted by redocly
 * in tests/integration/openapi.test.sh).  The core adds path parameters,
 * security, the Idempotency-Key header and the 400/401/403/415/429
 * problem responses itself.
 */
#include "openapi.h"

#define PROBLEM "{\"$ref\":\"#/components/responses/Problem\"}"
#define STR "{\"type\":\"string\"}"
#define INT "{\"type\":\"integer\",\"format\":\"int64\"}"
#define TIME "{\"type\":\"string\",\"format\":\"date-time\"}"

#define ORDER_SUMMARY_PROPS                                                                        \
    "\"id\":" STR ",\"status\":{\"type\":\"string\",\"enum\":[\"pending_payment\",\"paid\","       \
    "\"expired\",\"cancelled\",\"refunded\"]},\"user\":" STR ",\"subtotal_cents\":" INT            \
    ",\"total_cents\":" INT ",\"currency\":" STR ",\"created_at\":" TIME ",\"expires_at\":" TIME

#define ORDER_SCHEMA                                                                               \
    "{\"type\":\"object\",\"properties\":{" ORDER_SUMMARY_PROPS                                    \
    ",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"               \
    "\"ticket_type_id\":" STR ",\"event_id\":" STR ",\"event_name\":" STR ",\"name\":" STR         \
    ",\"quantity\":" INT ",\"unit_price_cents\":" INT ",\"line_total_cents\":" INT "}}},"          \
    "\"products\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"             \
    "\"product_id\":" STR ",\"sku\":" STR ",\"name\":" STR ",\"quantity\":" INT                    \
    ",\"unit_price_cents\":" INT ",\"line_total_cents\":" INT "}}}}}"

#define ORDER_RESPONSE(code, what)                                                                 \
    "\"" code "\":{\"description\":\"" what                                                        \
    "\",\"content\":{\"application/json\":{\"schema\":" ORDER_SCHEMA "}}}"

#define LINE_INPUT(idname)                                                                         \
    "{\"type\":\"array\",\"maxItems\":20,\"items\":{\"type\":\"object\",\"required\":[\"" idname   \
    "\",\"quantity\"],\"properties\":{\"" idname "\":" STR ",\"quantity\":{\"type\":\"integer\","  \
    "\"minimum\":1,\"maximum\":20}}}}"

#define PAGE_PARAMS                                                                                \
    "{\"name\":\"limit\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1,"         \
    "\"maximum\":100,\"default\":20}},{\"name\":\"cursor\",\"in\":\"query\",\"schema\":" STR "}"

#define TICKET_LINES_IN LINE_INPUT("ticket_type_id")
#define PRODUCT_LINES_IN LINE_INPUT("product_id")
#define ORDER_CREATED ORDER_RESPONSE("201", "The order, pending payment")
#define ORDER_OK ORDER_RESPONSE("200", "The order")
#define ORDER_CANCELLED ORDER_RESPONSE("200", "The cancelled order")

const char order_doc_create[] =
    "{\"summary\":\"Place an order: hold tickets and products\",\"tags\":[\"orders\"],"
    "\"operationId\":\"createOrder\",\"description\":\"Prices come from the catalog; every line "
    "is held for hold_seconds, then released unless paid.\","
    "\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{"
    "\"type\":\"object\",\"required\":[\"items\"],\"properties\":{"
    "\"items\":" TICKET_LINES_IN ",\"products\":" PRODUCT_LINES_IN "}}}}},"
    "\"responses\":{" ORDER_CREATED ",\"409\":" PROBLEM ",\"422\":" PROBLEM "}}";

const char order_doc_get[] =
    "{\"summary\":\"An order (owner or admin)\",\"tags\":[\"orders\"],\"operationId\":\"getOrder\","
    "\"responses\":{" ORDER_OK ",\"404\":" PROBLEM "}}";

const char order_doc_list[] =
    "{\"summary\":\"The caller's orders, newest first (admin: everyone's)\",\"tags\":[\"orders\"],"
    "\"operationId\":\"listOrders\",\"parameters\":[" PAGE_PARAMS
    ",{\"name\":\"user\",\"in\":\"query\",\"description\":\"admin only: this user's orders\","
    "\"schema\":" STR "}],\"responses\":{\"200\":{\"description\":\"A page of orders\","
    "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
    "{" ORDER_SUMMARY_PROPS "}}},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}}}},"
    "\"400\":" PROBLEM "}}";

const char order_doc_cancel[] =
    "{\"summary\":\"Cancel a pending order and release its holds\",\"tags\":[\"orders\"],"
    "\"operationId\":\"cancelOrder\","
    "\"responses\":{" ORDER_CANCELLED ",\"404\":" PROBLEM ",\"409\":" PROBLEM "}}";

#define TICKET_PROPS                                                                               \
    "\"code\":" STR ",\"order_id\":" STR ",\"ticket_type_id\":" STR ",\"event_id\":" STR           \
    ",\"status\":{\"type\":\"string\",\"enum\":[\"valid\",\"used\",\"void\"]}"

const char order_doc_tickets[] =
    "{\"summary\":\"The tickets of a paid order (owner or admin)\",\"tags\":[\"orders\"],"
    "\"operationId\":\"listOrderTickets\",\"parameters\":[" PAGE_PARAMS "],"
    "\"responses\":{\"200\":{\"description\":\"A page of tickets\",\"content\":{"
    "\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":{\"items\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{" TICKET_PROPS "}}},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}}}},\"400\":" PROBLEM ",\"404\":" PROBLEM
    "}}";

const char order_doc_checkin[] =
    "{\"summary\":\"Admit a ticket at the door (staff or admin)\",\"tags\":[\"orders\"],"
    "\"operationId\":\"checkIn\",\"requestBody\":{\"required\":true,\"content\":{"
    "\"application/json\":{\"schema\":{\"type\":\"object\",\"required\":[\"code\"],"
    "\"properties\":{\"code\":" STR "}}}}},\"responses\":{\"200\":{\"description\":\"Admitted\","
    "\"content\":{\"application/"
    "json\":{\"schema\":{\"type\":\"object\",\"properties\":{" TICKET_PROPS
    ",\"checked_in_at\":" TIME "}}}}},\"404\":" PROBLEM ",\"409\":" PROBLEM ",\"422\":" PROBLEM
    "}}";
