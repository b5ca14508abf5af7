/* openapi.c - the OpenAPI 3.1 operation fragments of the payment routes.
 * The core adds the path parameters, the security requirement, the
 * Idempotency-Key header and its own problem responses. */
#include "payment.h"

#define PROBLEM "{\"$ref\":\"#/components/responses/Problem\"}"
#define PAYMENT_SCHEMA                                                                             \
    "{\"type\":\"object\",\"required\":[\"id\",\"order_id\",\"method\",\"status\","                \
    "\"amount_cents\",\"currency\",\"created_at\"],\"properties\":{"                               \
    "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"                                            \
    "\"order_id\":{\"type\":\"string\"},"                                                          \
    "\"method\":{\"type\":\"string\",\"enum\":[\"card\",\"pix\",\"free\"]},"                       \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"captured\",\"declined\","             \
    "\"refunded\",\"orphaned\"]},"                                                                 \
    "\"amount_cents\":{\"type\":\"integer\"},"                                                     \
    "\"currency\":{\"type\":\"string\"},"                                                          \
    "\"orphaned\":{\"type\":\"boolean\"},"                                                         \
    "\"pix_copy_paste\":{\"type\":\"string\"},"                                                    \
    "\"decline_reason\":{\"type\":\"string\"},"                                                    \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                               \
    "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                               \
    "\"captured_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                              \
    "\"refunded_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}"
#define PAYMENT_JSON "{\"application/json\":{\"schema\":" PAYMENT_SCHEMA "}}"

const char pay_doc_create[] =
    "{\"summary\":\"Pay an order\",\"tags\":[\"payments\"],\"operationId\":\"createPayment\","
    "\"description\":\"Charges the order's total_cents (never sent by the client). A card is "
    "authorized and captured at once: 201 with status captured (the order is paid), declined "
    "(the order stays pending: try another card) or pending (the gateway did not answer in "
    "time: reconciled later). PIX answers pending with pix_copy_paste until the gateway's "
    "webhook confirms. An order whose total_cents is 0 is paid with method free (no gateway, "
    "captured at once); card and pix are refused with 422 for it, free for any other.\","
    "\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{"
    "\"type\":\"object\",\"required\":[\"method\"],\"additionalProperties\":false,"
    "\"properties\":{\"method\":{\"type\":\"string\",\"enum\":[\"card\",\"pix\",\"free\"]},"
    "\"card_token\":{\"type\":\"string\",\"maxLength\":128}}}}}},"
    "\"responses\":{\"201\":{\"description\":\"The payment attempt\",\"content\":" PAYMENT_JSON
    "},\"404\":" PROBLEM ",\"409\":" PROBLEM ",\"422\":" PROBLEM ",\"503\":" PROBLEM "}}";

const char pay_doc_get[] =
    "{\"summary\":\"Read a payment\",\"tags\":[\"payments\"],\"operationId\":\"getPayment\","
    "\"responses\":{\"200\":{\"description\":\"The payment\",\"content\":" PAYMENT_JSON
    "},\"404\":" PROBLEM "}}";

const char pay_doc_refund[] =
    "{\"summary\":\"Refund a payment\",\"tags\":[\"payments\"],\"operationId\":"
    "\"refundPayment\",\"description\":\"Admins only. Refunds a captured payment through the "
    "gateway; the order becomes refunded and its tickets are voided.\","
    "\"responses\":{\"200\":{\"description\":\"The refunded payment\",\"content\":" PAYMENT_JSON
    "},\"404\":" PROBLEM ",\"409\":" PROBLEM ",\"502\":" PROBLEM ",\"503\":" PROBLEM "}}";

const char pay_doc_webhook[] =
    "{\"summary\":\"Gateway confirmation webhook\",\"tags\":[\"payments\"],\"operationId\":"
    "\"paymentWebhook\",\"description\":\"Called by the payment gateway, signed with "
    "X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>' under webhook_secret>.\","
    "\"parameters\":[{\"name\":\"X-Signature\",\"in\":\"header\",\"required\":true,"
    "\"schema\":{\"type\":\"string\"}}],"
    "\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{"
    "\"type\":\"object\",\"required\":[\"payment_id\",\"status\"],\"properties\":{"
    "\"payment_id\":{\"type\":\"string\"},\"status\":{\"type\":\"string\",\"enum\":"
    "[\"captured\",\"declined\"]},\"amount_cents\":{\"type\":\"integer\"},"
    "\"reason\":{\"type\":\"string\"},\"id\":{\"type\":\"string\"}}}}}},"
    "\"responses\":{\"200\":{\"description\":\"The payment after the confirmation\","
    "\"content\":" PAYMENT_JSON "},\"401\":" PROBLEM ",\"404\":" PROBLEM ",\"422\":" PROBLEM "}}";
