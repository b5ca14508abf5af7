/* ctl.c - bilhetagemctl, the admin command line.
 *
 *   bilhetagemctl migrate -c FILE                 apply pending migrations
 *   bilhetagemctl outbox list -c FILE [--status S] [--limit N]
 *   bilhetagemctl outbox retry -c FILE SEQ        re-drive a dead letter
 *   bilhetagemctl token -c FILE --sub SUB [...]   mint a local access token
 *
 * It reads the daemon's config and builds the same bh_app through app.c
 * (config, log, storage, and for `migrate` the plugins, whose init declares
 * their migrations), so it always agrees with the daemon about the schema.
 * It never starts workers or the outbox dispatcher: a running server picks
 * up what the CLI changed at its next outbox poll.  `token` asks whichever
 * plugin provides the auth.tokens service (include/bilhetagem/services/
 * auth.h) to mint: the CLI knows the service, not the plugin.
 *
 * Commands live in one table; a command is one or two words, its options
 * and a function.  stdout carries the command's output, stderr the log
 * lines and errors.  Exit status: 0 done, 2 anything else (as bilhetagemd).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bilhetagem/services/auth.h>

#include "app.h"
#include "storage.h"
#include "tasks.h"

#define EXIT_FAIL 2
#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 100000
#define TOKEN_LIST_MAX 64 /* --groups / --scopes entries */
#define TOKEN_TTL_DEFAULT 3600
#define TOKEN_TTL_MAX (30L * 24 * 3600)
#define TOKEN_MAX 8192

typedef struct ctl_args {
    const char *config;
    const char *plugin_dir;
    const char *status;   /* outbox list --status */
    long limit;           /* outbox list --limit */
    int filtered;         /* --status or --limit was given */
    const char *sub;      /* token --sub */
    const char *username; /* token --username */
    const char *email;    /* token --email */
    const char *groups;   /* token --groups, comma-separated */
    const char *scopes;   /* token --scopes, comma-separated */
    long ttl_s;           /* token --ttl, in seconds; -1 when malformed */
    int minting;          /* a token option was given */
    char **rest;          /* positional arguments after the command */
    int nrest;
} ctl_args;

typedef struct ctl_command {
    const char *words[2]; /* "outbox", "list"; second NULL for one word */
    const char *synopsis; /* options and arguments, for usage */
    const char *summary;
    int nargs;   /* positional arguments required */
    int plugins; /* load and init the plugins first */
    int filters; /* takes --status and --limit */
    int mints;   /* takes the token options */
    int (*run)(bh_app *app, const ctl_args *a, char *err, size_t errlen);
} ctl_command;

/* ---- database helpers ------------------------------------------------------ */

/* One autocommit statement on the CLI's own connection.  -1 with err. */
static int ctl_sql(bh_app *app, bh_dbconn **conn, const char *sql, const bh_db_value *p, size_t n,
                   bh_rows **rows, char *err, size_t errlen)
{
    char why[BH_DB_ERR_MAX] = "";
    if (bh_storage_connect(app->storage, conn, why, sizeof why) != BH_DB_OK) {
        snprintf(err, errlen, "database unreachable: %s", why);
        return -1;
    }
    if ((*conn)->drv->run(*conn, sql, p, n, rows, NULL, why, sizeof why) != BH_DB_OK) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

static int need_storage(const bh_app *app, char *err, size_t errlen)
{
    if (app->storage)
        return 0;
    snprintf(err, errlen, "%s has no \"storage\" section: there is no database to work on",
             app->cfg->file);
    return -1;
}

/* ---- migrate --------------------------------------------------------------- */

/* Apply pending migrations, as the daemon does before serving.  -1 with err. */
static int migrate(bh_app *app, char *err, size_t errlen)
{
    if (need_storage(app, err, errlen) != 0)
        return -1;
    /* The daemon creates data_dir before opening storage; so do we, so a
     * SQLite path inside it works on a fresh machine. */
    if (bh_app_make_data_dir(app, err, errlen) != 0)
        return -1;
    char why[BH_ERR_MAX] = "";
    bh_db_status s = bh_storage_migrate(app->storage, why, sizeof why);
    if (s != BH_DB_OK) {
        snprintf(err, errlen, "%s%s", s == BH_DB_UNAVAILABLE ? "database unreachable: " : "", why);
        return -1;
    }
    return 0;
}

static int cmd_migrate(bh_app *app, const ctl_args *a, char *err, size_t errlen)
{
    (void)a;
    if (migrate(app, err, errlen) != 0)
        return -1;
    int applied = 0;
    for (size_t i = 0; i < app->storage->migrations.len; i++) {
        const bh_storage_migration *m = bh_vec_at(&app->storage->migrations, i);
        if (m->applied) {
            printf("applied %s/%d %s\n", m->plugin, m->version, m->name);
            applied++;
        }
    }
    if (!applied)
        printf("schema is up to date (%zu migrations)\n", app->storage->migrations.len);
    return 0;
}

/* ---- outbox list ----------------------------------------------------------- */

enum {
    COL_SEQ,
    COL_ID,
    COL_TYPE,
    COL_SUBJECT,
    COL_STATUS,
    COL_ATTEMPTS,
    COL_NEXT,
    COL_ERROR,
    NCOLS
};
static const char *const col_names[NCOLS] = {"SEQ",    "EVENT_ID", "TYPE",         "SUBJECT",
                                             "STATUS", "ATTEMPTS", "NEXT_ATTEMPT", "LAST_ERROR"};

/* A cell as printed: NULL is "-", control characters (a multi-line driver
 * message) become spaces so one event stays on one line. */
static char *cell_text(const bh_rows *r, size_t row, size_t col)
{
    const char *s = bh_rows_text(r, row, col);
    char *out = bh_xstrdup(s && *s ? s : "-");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return out;
}

static char *int_text(const bh_rows *r, size_t row, size_t col)
{
    int64_t v = 0;
    char buf[32] = "-";
    if (bh_rows_int(r, row, col, &v) == BH_DB_OK)
        snprintf(buf, sizeof buf, "%" PRId64, v);
    return bh_xstrdup(buf);
}

/* next_attempt_at only means something while the event is pending. */
static char *next_text(const bh_rows *r, size_t row, int pending)
{
    int64_t ms = 0;
    if (!pending || bh_rows_int(r, row, 6, &ms) != BH_DB_OK)
        return bh_xstrdup("-");
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[24], buf[40];
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof buf, "%s.%03dZ", date, (int)(ms % 1000));
    return bh_xstrdup(buf);
}

static void print_row(char *const *cells, const size_t *width)
{
    for (int c = 0; c < NCOLS; c++) {
        if (c == NCOLS - 1)
            printf("%s\n", cells[c]); /* last column: no padding */
        else
            printf("%-*s  ", (int)width[c], cells[c]);
    }
}

static void print_table(const bh_rows *r)
{
    size_t n = bh_rows_count(r);
    char **cells = bh_xcalloc(n * NCOLS, sizeof *cells);
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        width[c] = strlen(col_names[c]);
    for (size_t i = 0; i < n; i++) {
        char **row = cells + i * NCOLS;
        row[COL_SEQ] = int_text(r, i, 0);
        row[COL_ID] = cell_text(r, i, 1);
        row[COL_TYPE] = cell_text(r, i, 2);
        row[COL_SUBJECT] = cell_text(r, i, 3);
        row[COL_STATUS] = cell_text(r, i, 4);
        row[COL_ATTEMPTS] = int_text(r, i, 5);
        row[COL_NEXT] = next_text(r, i, !strcmp(row[COL_STATUS], "pending"));
        row[COL_ERROR] = cell_text(r, i, 7);
        for (int c = 0; c < NCOLS; c++)
            if (strlen(row[c]) > width[c])
                width[c] = strlen(row[c]);
    }
    print_row((char *const *)col_names, width);
    for (size_t i = 0; i < n; i++)
        print_row(cells + i * NCOLS, width);
    printf("(%zu event%s)\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n * NCOLS; i++)
        free(cells[i]);
    free(cells);
}

static int cmd_outbox_list(bh_app *app, const ctl_args *a, char *err, size_t errlen)
{
    if (need_storage(app, err, errlen) != 0)
        return -1;
    bh_db_value p[] = {BH_DB_S(a->status), BH_DB_I(a->limit)};
    bh_rows *rows = NULL;
    bh_dbconn *conn = NULL;
    /* "$1 IS NULL OR": one statement whether or not --status was given */
    int rc = ctl_sql(app, &conn,
                     "SELECT seq, event_id, type, subject, status, attempts, next_attempt_at,"
                     " last_error FROM bh_outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)"
                     " ORDER BY seq LIMIT $2",
                     p, 2, &rows, err, errlen);
    if (rc == 0)
        print_table(rows);
    bh_rows_free(rows);
    bh_storage_disconnect(&conn);
    return rc;
}

/* ---- outbox retry ---------------------------------------------------------- */

static int parse_seq(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 1 || s[0] == '+' || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Why SEQ could not be put back (it is unknown, or delivered). */
static void explain_no_retry(bh_app *app, bh_dbconn **conn, int64_t seq, char *err, size_t errlen)
{
    bh_db_value p[] = {BH_DB_I(seq)};
    bh_rows *rows = NULL;
    if (ctl_sql(app, conn, "SELECT status FROM bh_outbox WHERE seq = $1", p, 1, &rows, err,
                errlen) != 0)
        return;
    if (bh_rows_count(rows) == 0)
        snprintf(err, errlen, "no outbox event has seq %" PRId64, seq);
    else
        snprintf(err, errlen,
                 "outbox event %" PRId64 " is %s: only pending or dead events can "
                 "be retried",
                 seq, bh_rows_text(rows, 0, 0) ? bh_rows_text(rows, 0, 0) : "?");
    bh_rows_free(rows);
}

static int cmd_outbox_retry(bh_app *app, const ctl_args *a, char *err, size_t errlen)
{
    int64_t seq = 0;
    if (parse_seq(a->rest[0], &seq) != 0) {
        snprintf(err, errlen, "SEQ must be a positive integer, not \"%s\"", a->rest[0]);
        return -1;
    }
    if (need_storage(app, err, errlen) != 0)
        return -1;
    /* Due now, no lease, a fresh attempt budget; last_error stays as the
     * record of why it died. */
    bh_db_value p[] = {BH_DB_I(bh_epoch_ms()), BH_DB_I(seq)};
    bh_rows *rows = NULL;
    bh_dbconn *conn = NULL;
    int rc = ctl_sql(app, &conn,
                     "UPDATE bh_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1,"
                     " lease_until = 0 WHERE seq = $2 AND status IN ('pending', 'dead')"
                     " RETURNING event_id, type",
                     p, 2, &rows, err, errlen);
    if (rc == 0 && bh_rows_count(rows) == 1) {
        printf("outbox event %" PRId64 " (%s %s) is pending again\n", seq, bh_rows_text(rows, 0, 1),
               bh_rows_text(rows, 0, 0));
    } else if (rc == 0) {
        explain_no_retry(app, &conn, seq, err, errlen);
        rc = -1;
    }
    bh_rows_free(rows);
    bh_storage_disconnect(&conn);
    return rc;
}

/* ---- token ----------------------------------------------------------------- */

/* "a,b,c" -> out = {"a","b","c",NULL}, split in `copy` (a copy of csv the
 * caller owns), at most TOKEN_LIST_MAX entries. */
static int split_list(const char *what, const char *csv, char *copy, const char **out, char *err,
                      size_t errlen)
{
    size_t n = 0;
    out[0] = NULL;
    if (!csv)
        return 0;
    strcpy(copy, csv);
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (n == TOKEN_LIST_MAX) {
            snprintf(err, errlen, "--%s: at most %d entries", what, TOKEN_LIST_MAX);
            return -1;
        }
        out[n++] = w;
        out[n] = NULL;
    }
    return 0;
}

static int cmd_token(bh_app *app, const ctl_args *a, char *err, size_t errlen)
{
    const bh_auth_tokens_service *svc =
        bh_service_lookup(BH_AUTH_TOKENS_SERVICE, BH_AUTH_TOKENS_SERVICE_VERSION);
    if (!svc) {
        snprintf(err, errlen,
                 "no configured plugin provides the %s service: add the auth "
                 "plugin (mode \"hs256\") to %s",
                 BH_AUTH_TOKENS_SERVICE, app->cfg->file);
        return -1;
    }
    const char *groups[TOKEN_LIST_MAX + 1], *scopes[TOKEN_LIST_MAX + 1];
    char *gcopy = bh_xstrdup(a->groups ? a->groups : "");
    char *scopy = bh_xstrdup(a->scopes ? a->scopes : "");
    char *token = bh_xcalloc(1, TOKEN_MAX + 1);
    bh_auth_token_request r = {.sub = a->sub,
                               .username = a->username,
                               .email = a->email,
                               .groups = groups,
                               .scopes = scopes,
                               .ttl_s = a->ttl_s};
    int rc = -1;
    if (split_list("groups", a->groups, gcopy, groups, err, errlen) == 0 &&
        split_list("scopes", a->scopes, scopy, scopes, err, errlen) == 0 &&
        svc->mint(svc->self, &r, token, TOKEN_MAX + 1, err, errlen) == 0) {
        printf("%s\n", token);
        rc = 0;
    }
    free(gcopy);
    free(scopy);
    free(token);
    return rc;
}

/* "90", "90s", "15m", "1h", "7d" -> seconds, or -1. */
static long parse_ttl(const char *s)
{
    char *end = NULL;
    if (*s < '0' || *s > '9')
        return -1;
    long v = strtol(s, &end, 10);
    long unit = 1;
    if (!strcmp(end, "m"))
        unit = 60;
    else if (!strcmp(end, "h"))
        unit = 3600;
    else if (!strcmp(end, "d"))
        unit = 86400;
    else if (*end && strcmp(end, "s"))
        return -1;
    if (v < 1 || v > TOKEN_TTL_MAX / unit)
        return -1;
    return v * unit;
}

/* ---- commands the configured plugins register (bilhetagem/tasks.h) ---------- */

static const char *plugin_command_name; /* argv[1] when it names no built-in */

static int cmd_plugin(bh_app *app, const ctl_args *a, char *err, size_t errlen)
{
    (void)a;
    if (migrate(app, err, errlen) != 0)
        return -1;
    return bh_commands_run(app, plugin_command_name, stdout, err, errlen);
}

static const ctl_command plugin_command = {{"", NULL},
                                           "-c FILE",
                                           "a command a configured plugin registers",
                                           .plugins = 1,
                                           .run = cmd_plugin};

/* ---- the command table ------------------------------------------------------- */

static const ctl_command commands[] = {
    {{"migrate", NULL},
     "-c FILE [-p DIR]",
     "apply the pending migrations of the core and the configured plugins",
     .plugins = 1,
     .run = cmd_migrate},
    {{"outbox", "list"},
     "-c FILE [--status pending|done|dead] [--limit N]",
     "list outbox events, oldest first (at most N, default 100)",
     .filters = 1,
     .run = cmd_outbox_list},
    {{"outbox", "retry"},
     "-c FILE SEQ",
     "make a dead (or pending) event due now with a fresh attempt budget",
     .nargs = 1,
     .run = cmd_outbox_retry},
    {{"token", NULL},
     "-c FILE --sub SUB [--groups G,...] [--scopes S,...] [--ttl 1h]\n"
     "        [--email E] [--username U]",
     "print an access token the configured auth plugin accepts (its hs256 mode)",
     .plugins = 1,
     .mints = 1,
     .run = cmd_token},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs("usage: bilhetagemctl COMMAND [options]\n\ncommands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const ctl_command *c = &commands[i];
        fprintf(out, "  %s%s%s %s\n      %s\n", c->words[0], c->words[1] ? " " : "",
                c->words[1] ? c->words[1] : "", c->synopsis, c->summary);
    }
    fputs("\noptions:\n"
          "  -c, --config FILE       the server's configuration file (JSON)\n"
          "  -p, --plugin-dir DIR    where relative plugin paths are found\n"
          "                          (overrides BILHETAGEM_PLUGIN_DIR and plugin_dir)\n"
          "  -s, --status STATUS     outbox list: only events in STATUS\n"
          "  -n, --limit N           outbox list: at most N events (1-100000)\n"
          "      --sub SUB           token: the subject (required)\n"
          "      --groups G,...      token: cognito:groups (admin for admin routes)\n"
          "      --scopes S,...      token: scope\n"
          "      --ttl N[s|m|h|d]    token: lifetime, 1 s to 30 days (default 1h)\n"
          "      --email E           token: email\n"
          "      --username U        token: username (default: SUB)\n"
          "  -v, --version           print the version and exit\n"
          "  -h, --help              print this help and exit\n"
          "\nplugins add commands of their own (the products plugin: seed); run\n"
          "  bilhetagemctl NAME -c FILE\n"
          "to run the command NAME of the plugins FILE configures.\n"
          "\nexit status: 0 done, 2 failed (the reason is on stderr)\n",
          out);
}

/* The command named by argv[1] (and argv[2]); *used = words consumed. */
static const ctl_command *find_command(int argc, char **argv, int *used)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const ctl_command *c = &commands[i];
        if (argc < 2 || strcmp(argv[1], c->words[0]))
            continue;
        if (!c->words[1]) {
            *used = 1;
            return c;
        }
        if (argc >= 3 && !strcmp(argv[2], c->words[1])) {
            *used = 2;
            return c;
        }
    }
    return NULL;
}

/* 1 when `word` starts two-word commands ("outbox"). */
static int is_group(const char *word)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].words[1] && !strcmp(commands[i].words[0], word))
            return 1;
    return 0;
}

BH_PRINTF(1, 2)
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bilhetagemctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(bilhetagemctl --help lists the commands)\n", stderr);
    va_end(ap);
    return -1;
}

enum { OPT_SUB = 256, OPT_GROUPS, OPT_SCOPES, OPT_TTL, OPT_EMAIL, OPT_USERNAME };

/* The token options: 1 when `c` was one of them. */
static int token_option(int c, ctl_args *a)
{
    switch (c) {
    case OPT_SUB: a->sub = optarg; break;
    case OPT_GROUPS: a->groups = optarg; break;
    case OPT_SCOPES: a->scopes = optarg; break;
    case OPT_EMAIL: a->email = optarg; break;
    case OPT_USERNAME: a->username = optarg; break;
    case OPT_TTL: a->ttl_s = parse_ttl(optarg); break;
    default: return 0;
    }
    a->minting = 1;
    return 1;
}

static int parse_options(int argc, char **argv, const ctl_command *cmd, ctl_args *a)
{
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                          {"plugin-dir", required_argument, NULL, 'p'},
                                          {"status", required_argument, NULL, 's'},
                                          {"limit", required_argument, NULL, 'n'},
                                          {"sub", required_argument, NULL, OPT_SUB},
                                          {"groups", required_argument, NULL, OPT_GROUPS},
                                          {"scopes", required_argument, NULL, OPT_SCOPES},
                                          {"ttl", required_argument, NULL, OPT_TTL},
                                          {"email", required_argument, NULL, OPT_EMAIL},
                                          {"username", required_argument, NULL, OPT_USERNAME},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    char *end;
    a->limit = LIST_DEFAULT_LIMIT;
    a->ttl_s = TOKEN_TTL_DEFAULT;
    opterr = 0; /* our messages, not getopt's */
    while ((c = getopt_long(argc, argv, ":c:p:s:n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'p': a->plugin_dir = optarg; break;
        case 's':
            a->status = optarg;
            a->filtered = 1;
            break;
        case 'n':
            a->filtered = 1;
            a->limit = strtol(optarg, &end, 10);
            if (!*optarg || *end || a->limit < 1 || a->limit > LIST_MAX_LIMIT)
                return bad_usage("--limit must be 1-100000, not \"%s\"", optarg);
            break;
        case 'h': usage(stdout); exit(0);
        case ':': return bad_usage("%s needs a value", argv[optind - 1]);
        default:
            if (token_option(c, a)) {
                if (a->ttl_s < 0)
                    return bad_usage("--ttl must be N, Ns, Nm, Nh or Nd, 1 s to 30 days, "
                                     "not \"%s\"",
                                     optarg);
                break;
            }
            return bad_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (a->status && strcmp(a->status, "pending") && strcmp(a->status, "done") &&
        strcmp(a->status, "dead"))
        return bad_usage("--status must be pending, done or dead, not \"%s\"", a->status);
    if (a->filtered && !cmd->filters)
        return bad_usage("%s", "--status and --limit only apply to outbox list");
    if (a->minting && !cmd->mints)
        return bad_usage("%s", "--sub, --groups, --scopes, --ttl, --email and --username "
                               "only apply to token");
    if (cmd->mints && !a->sub)
        return bad_usage("%s", "token: --sub is required");
    if (!a->config && cmd == &plugin_command)
        return bad_usage("unknown command \"%s\" (a plugin's command needs -c FILE)",
                         plugin_command_name);
    if (!a->config)
        return bad_usage("%s", "-c FILE is required");
    a->rest = argv + optind;
    a->nrest = argc - optind;
    if (a->nrest != cmd->nargs)
        return bad_usage("%s: %s argument", cmd->words[1] ? cmd->words[1] : cmd->words[0],
                         a->nrest < cmd->nargs ? "missing" : "unexpected");
    return 0;
}

static int run_command(const ctl_command *cmd, const ctl_args *a)
{
    static bh_app app; /* static: bh_the_app points at it for the plugins */
    char err[BH_ERR_MAX * 2] = "";
    bh_app_init(&app);
    int rc = bh_app_configure(&app, a->config, err, sizeof err);
    if (rc == 0) {
        bh_log_use_stderr(); /* stdout is the command's output */
        if (cmd->plugins)
            rc = bh_app_load_plugins(&app, a->plugin_dir, err, sizeof err);
    }
    if (rc == 0)
        rc = cmd->run(&app, a, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "bilhetagemctl: %s\n", err[0] ? err : "failed");
    bh_app_free(&app);
    return rc == 0 ? 0 : EXIT_FAIL;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("bilhetagemctl %s (SDK ABI %u)\n", PACKAGE_VERSION, BH_ABI_VERSION);
        return 0;
    }
    int used = 0;
    const ctl_command *cmd = find_command(argc, argv, &used);
    if (!cmd && argc >= 2 && argv[1][0] != '-' && !is_group(argv[1])) {
        /* Not ours: perhaps a plugin's; the config says once it is loaded. */
        plugin_command_name = argv[1];
        cmd = &plugin_command;
        used = 1;
    }
    if (!cmd) {
        if (argc < 2)
            bad_usage("no command given");
        else if (argc >= 3 && is_group(argv[1]))
            bad_usage("unknown command \"%s %s\"", argv[1], argv[2]);
        else if (is_group(argv[1]))
            bad_usage("\"%s\" needs a subcommand", argv[1]);
        else
            bad_usage("unknown command \"%s\"", argv[1]);
        return EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN);
    ctl_args a = {0};
    /* getopt sees "outbox list -c FILE ..." as "list -c FILE ...": argv[0]
     * of the shifted vector is the last command word. */
    if (parse_options(argc - used, argv + used, cmd, &a) != 0)
        return EXIT_FAIL;
    return run_command(cmd, &a);
}
