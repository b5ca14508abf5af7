/* openapi.h - the order plugin's OpenAPI operation fragments (openapi.c). */
#ifndef BH_PLUGIN_ORDER_OPENAPI_H
#define BH_PLUGIN_ORDER_OPENAPI_H

extern const char order_doc_create[];
extern const char order_doc_get[];
extern const char order_doc_list[];
extern const char order_doc_cancel[];
extern const char order_doc_tickets[];
extern const char order_doc_checkin[];

#endif
