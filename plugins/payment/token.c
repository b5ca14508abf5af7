/* token.c - what a card token may look like.
 *
 * The plugin never sees card numbers: the buyer's card is tokenized by the
 * gateway's client-side library and only the token reaches us.  A value
 * that looks like a primary account number (13 to 19 digits, spaces or
 * dashes between them allowed) is refused before anything else, and the
 * caller must never echo or log it.  Other tokens are [A-Za-z0-9_-], at
 * most PAY_TOKEN_MAX bytes; the simulator takes only its test tokens
 * (tok_ followed by [A-Za-z0-9_]).
 */
#include <string.h>

#include "payment.h"

/* 13..19 digits once spaces and dashes are dropped, and nothing else. */
static int looks_like_pan(const char *s, size_t len)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] != ' ' && s[i] != '-')
            return 0;
    }
    return digits >= 13 && digits <= 19;
}

/* A run of 13 or more digits anywhere ("tok_4111111111111111"). */
static int holds_digit_run(const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] >= '0' && s[i] <= '9' ? run + 1 : 0;
        if (run >= 13)
            return 1;
    }
    return 0;
}

pay_token_status pay_token_check(const char *token, size_t len, int simulator)
{
    if (!token || len == 0)
        return PAY_TOKEN_INVALID;
    if (looks_like_pan(token, len) || holds_digit_run(token, len))
        return PAY_TOKEN_PAN;
    if (len > PAY_TOKEN_MAX || memchr(token, '\0', len))
        return PAY_TOKEN_INVALID;
    static const char allowed[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    for (size_t i = 0; i < len; i++)
        if (!memchr(allowed, token[i], sizeof allowed - 1))
            return PAY_TOKEN_INVALID;
    if (simulator && (len <= 4 || strncmp(token, "tok_", 4) || memchr(token, '-', len)))
        return PAY_TOKEN_NOT_TEST;
    return PAY_TOKEN_OK;
}
