/* A compilation job's log from CloudWatch Logs: a step machine over single
 * calls (DescribeLogStreams, GetLogEvents, DescribeCompilationJob) made
 * with the client's call machine (retries, credentials), see joblogs.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "client_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "joblogs_internal.h"
#include "protocol_internal.h"
#include "smneo/joblogs.h"
#include "smneo/model.h"

enum { MAX_SLEEP_STEP_MS = 200 };

enum {
    PH_STREAMS, /* list the job's streams (DescribeLogStreams, page by page) */
    PH_READ,    /* read stream `cur` (GetLogEvents) */
    PH_EMIT,    /* hand out the round's events */
    PH_STATUS,  /* follow: DescribeCompilationJob */
    PH_SLEEP,   /* follow: until wake_ms */
    PH_DONE
};

enum { PENDING_NONE, PENDING_LOG, PENDING_WARNING, PENDING_STATUS };

typedef struct jl_stream {
    char *name;
    char *token;   /* the forward token to continue from, or NULL (not read yet) */
} jl_stream;

typedef struct jl_event {
    int64_t ts;
    size_t stream;
    size_t seq;
    char *message;
} jl_event;

struct smneo_joblogs {
    smneo_client *client;
    char *job;
    smneo_joblogs_options opts;
    int phase;
    int cancelled;
    smneo_call *sub;        /* the call in flight */
    int sub_op;             /* PH_STREAMS / PH_READ / PH_STATUS: what sub is */
    char *list_token;       /* DescribeLogStreams' nextToken */
    jl_stream *streams;
    size_t n_streams, cap_streams;
    size_t cur;             /* PH_READ: the stream being read */
    jl_event *events;       /* the round's events */
    size_t n_events, cap_events, emit_at, seq;
    smneo_log_event current;
    int pending;            /* an EVENT to report on the next step */
    char **warnings;
    size_t n_warnings;
    int warned_no_log;
    int terminal;           /* follow: the job has ended; the last round is under way */
    int last_round;         /* follow: this round is the one after the end */
    int polls_quiet;        /* follow: polls in a row without new lines */
    int budget;             /* follow: one logs request a round while the job runs */
    int need_list;          /* budget: list the streams in the next round */
    size_t rr;              /* budget: the stream the next round reads */
    int64_t wake_ms;
    smneo_result *description;
    char *status;
    int rc;
    smneo_error err;
};

static const smneo_operation *logs_op(const char *name)
{
    return smneo_service_operation(smneo_model_service("logs"), name);
}

static void done(smneo_joblogs *l, int rc)
{
    l->phase = PH_DONE;
    l->rc = rc;
    smneo_call_free(l->sub);
    l->sub = NULL;
}

static void fail_nomem(smneo_joblogs *l)
{
    smneo_error_clear(&l->err);
    smneo__error(&l->err, SMNEO_ENOMEM, "out of memory");
    done(l, SMNEO_ENOMEM);
}

static int add_warning(smneo_joblogs *l, char *text)
{
    if (!text)
        return SMNEO_ENOMEM;
    char **w = realloc(l->warnings, (l->n_warnings + 1) * sizeof *w);
    if (!w) {
        free(text);
        return SMNEO_ENOMEM;
    }
    l->warnings = w;
    w[l->n_warnings++] = text;
    l->pending = PENDING_WARNING;
    return 0;
}

int smneo_joblogs_new(smneo_joblogs **out, smneo_client *c, const char *job_name, const smneo_joblogs_options *o,
                      smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    if (!job_name || !*job_name)
        return smneo__error(err, SMNEO_EINVAL, "the job log needs a CompilationJobName");
    smneo_joblogs_options full;
    int orc = smneo__options_copy(&full, o, &smneo__joblogs_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->delay < 0 || o->max_delay < 0 || isnan(o->delay) || isnan(o->max_delay))
        return smneo__error(err, SMNEO_EINVAL, "delay and max_delay must be non-negative numbers");
    if (o->start_time < 0)
        return smneo__error(err, SMNEO_EINVAL, "start_time must be milliseconds since the epoch, or 0");
    if (o->follow && o->tail)
        return smneo__error(err, SMNEO_EINVAL, "tail reads the log as it is: it cannot be combined with follow");
    if (!logs_op("GetLogEvents") || !logs_op("DescribeLogStreams"))
        return smneo__error(err, SMNEO_EUNSUPPORTED, "this build has no CloudWatch Logs model");
    smneo_joblogs *l = calloc(1, sizeof *l);
    if (!l || !(l->job = smneo__strdup(job_name))) {
        free(l);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    l->client = c;
    l->opts = *o;
    if (l->opts.delay <= 0)
        l->opts.delay = 5;
    if (l->opts.max_delay <= 0)
        l->opts.max_delay = 60;
    if (l->opts.max_delay < l->opts.delay)
        l->opts.max_delay = l->opts.delay;
    l->phase = PH_STREAMS;
    *out = l;
    return 0;
}

static void clear_events(smneo_joblogs *l)
{
    for (size_t i = 0; i < l->n_events; i++)
        free(l->events[i].message);
    l->n_events = l->emit_at = 0;
}

void smneo_joblogs_free(smneo_joblogs *l)
{
    if (!l)
        return;
    smneo_call_free(l->sub);
    clear_events(l);
    free(l->events);
    for (size_t i = 0; i < l->n_streams; i++) {
        free(l->streams[i].name);
        free(l->streams[i].token);
    }
    free(l->streams);
    for (size_t i = 0; i < l->n_warnings; i++)
        free(l->warnings[i]);
    free(l->warnings);
    free(l->list_token);
    free(l->job);
    free(l->status);
    smneo_result_free(l->description);
    smneo_error_clear(&l->err);
    free(l);
}

/* ---- requests ------------------------------------------------------------------------------------ */

static int start_call(smneo_joblogs *l, const smneo_operation *op, cJSON *params, int what)
{
    char *json = params ? cJSON_PrintUnformatted(params) : NULL;
    cJSON_Delete(params);
    if (!json)
        return SMNEO_ENOMEM;
    smneo_error_clear(&l->err);
    int rc = smneo__call_op_new(&l->sub, l->client, op, json, strlen(json), &l->err);
    free(json);
    if (rc)
        return rc;
    l->sub_op = what;
    return 0;
}

static int start_list(smneo_joblogs *l)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "logGroupName", SMNEO_JOBLOGS_GROUP) ||
        !cJSON_AddStringToObject(p, "logStreamNamePrefix", l->job) ||
        (l->list_token && !cJSON_AddStringToObject(p, "nextToken", l->list_token))) {
        cJSON_Delete(p);
        return SMNEO_ENOMEM;
    }
    return start_call(l, logs_op("DescribeLogStreams"), p, PH_STREAMS);
}

static int start_read(smneo_joblogs *l)
{
    const jl_stream *s = &l->streams[l->cur];
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "logGroupName", SMNEO_JOBLOGS_GROUP) ||
        !cJSON_AddStringToObject(p, "logStreamName", s->name) || !cJSON_AddTrueToObject(p, "startFromHead") ||
        (s->token && !cJSON_AddStringToObject(p, "nextToken", s->token)) ||
        /* startTime with every page: the service filters each request by its own parameters */
        (l->opts.start_time > 0 &&
         !cJSON_AddNumberToObject(p, "startTime", (double)l->opts.start_time))) {
        cJSON_Delete(p);
        return SMNEO_ENOMEM;
    }
    return start_call(l, logs_op("GetLogEvents"), p, PH_READ);
}

static int start_status(smneo_joblogs *l)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "CompilationJobName", l->job)) {
        cJSON_Delete(p);
        return SMNEO_ENOMEM;
    }
    return start_call(l, smneo_model_operation("DescribeCompilationJob"), p, PH_STATUS);
}

/* ---- answers --------------------------------------------------------------------------------------- */

static int is_denied(const smneo_error *e)
{
    const char *c = e->service_code;
    return c && (!strcmp(c, "AccessDeniedException") || !strcmp(c, "AccessDenied"));
}

static int job_stream(const char *job, const char *name)
{
    size_t n = strlen(job);
    return !strncmp(name, job, n) && (name[n] == 0 || name[n] == '/');
}

static int has_stream(const smneo_joblogs *l, const char *name)
{
    for (size_t i = 0; i < l->n_streams; i++)
        if (!strcmp(l->streams[i].name, name))
            return 1;
    return 0;
}

static int add_stream(smneo_joblogs *l, const char *name)
{
    if (has_stream(l, name))
        return 0;
    if (l->n_streams == l->cap_streams) {
        size_t cap = l->cap_streams ? 2 * l->cap_streams : 8;
        jl_stream *s = realloc(l->streams, cap * sizeof *s);
        if (!s)
            return SMNEO_ENOMEM;
        l->streams = s;
        l->cap_streams = cap;
    }
    jl_stream *s = &l->streams[l->n_streams];
    s->token = NULL;
    if (!(s->name = smneo__strdup(name)))
        return SMNEO_ENOMEM;
    l->n_streams++;
    return 0;
}

static int warn_unreadable(smneo_joblogs *l, const smneo_error *e)
{
    return add_warning(l, smneo__aprintf("cannot read the job's log: %s: %s (reading it needs "
                                         "logs:DescribeLogStreams and logs:GetLogEvents on the log group %s)",
                                         e->service_code ? e->service_code : "refused",
                                         e->message ? e->message : "access denied", SMNEO_JOBLOGS_GROUP));
}

static int warn_no_log(smneo_joblogs *l)
{
    if (l->warned_no_log)
        return 0;
    l->warned_no_log = 1;
    return add_warning(l, smneo__aprintf("no log yet: the log group %s has no stream %s or %s/... (Neo "
                                         "writes the log once the job starts compiling)",
                                         SMNEO_JOBLOGS_GROUP, l->job, l->job));
}

static int cmp_event(const void *a, const void *b)
{
    const jl_event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_stream(const void *a, const void *b)
{
    return strcmp(((const jl_stream *)a)->name, ((const jl_stream *)b)->name);
}

/* The round's reads are over: sort, cut to the tail, hand out. */
static void round_read(smneo_joblogs *l)
{
    if (l->n_events > 1)
        qsort(l->events, l->n_events, sizeof *l->events, cmp_event);
    if (l->opts.tail && l->n_events > l->opts.tail)
        l->emit_at = l->n_events - l->opts.tail;
    l->phase = PH_EMIT;
}

/* The streams of this round are known: read them (or finish / poll). */
static void streams_listed(smneo_joblogs *l)
{
    if (l->budget && !l->terminal) {
        /* this round's request was the list: read in the next ones */
        if (l->n_streams > 1)
            qsort(l->streams, l->n_streams, sizeof *l->streams, cmp_stream);
        l->need_list = 0;
        if (l->rr >= l->n_streams)
            l->rr = 0;
        if (l->n_streams == 0 && warn_no_log(l)) {
            fail_nomem(l);
            return;
        }
        round_read(l);
        return;
    }
    if (l->n_streams == 0) {
        if (warn_no_log(l)) {
            fail_nomem(l);
            return;
        }
        round_read(l);
        return;
    }
    /* Ties in stream-name order (a round starts with no events, so the
     * streams may be reordered; each keeps its token). */
    qsort(l->streams, l->n_streams, sizeof *l->streams, cmp_stream);
    l->cur = 0;
    l->phase = PH_READ;
}

static void list_answered(smneo_joblogs *l, int rc, const smneo_result *r)
{
    if (rc == SMNEO_ENOTFOUND || (rc && l->err.service_code &&
                                  !strcmp(l->err.service_code, "ResourceNotFoundException"))) {
        smneo_error_clear(&l->err);
        streams_listed(l); /* no group yet */
        return;
    }
    if (rc && is_denied(&l->err)) {
        int w = warn_unreadable(l, &l->err);
        smneo_error_clear(&l->err);
        if (w)
            fail_nomem(l);
        else
            done(l, 0);
        return;
    }
    if (rc) {
        done(l, rc);
        return;
    }
    const cJSON *root = smneo__result_root_node(r);
    const cJSON *s, *streams = cJSON_GetObjectItemCaseSensitive(root, "logStreams");
    cJSON_ArrayForEach(s, streams)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "logStreamName");
        if (cJSON_IsString(n) && job_stream(l->job, n->valuestring) && add_stream(l, n->valuestring)) {
            fail_nomem(l);
            return;
        }
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "nextToken");
    if (cJSON_IsString(t) && *t->valuestring && !(l->list_token && !strcmp(l->list_token, t->valuestring))) {
        free(l->list_token);
        if (!(l->list_token = smneo__strdup(t->valuestring)))
            fail_nomem(l);
        return; /* PH_STREAMS: the next page */
    }
    free(l->list_token);
    l->list_token = NULL;
    streams_listed(l);
}

static int add_event(smneo_joblogs *l, int64_t ts, const char *msg)
{
    if (l->n_events == l->cap_events) {
        size_t cap = l->cap_events ? 2 * l->cap_events : 64;
        jl_event *e = realloc(l->events, cap * sizeof *e);
        if (!e)
            return SMNEO_ENOMEM;
        l->events = e;
        l->cap_events = cap;
    }
    jl_event *e = &l->events[l->n_events];
    if (!(e->message = smneo__strdup(msg)))
        return SMNEO_ENOMEM;
    e->ts = ts;
    e->stream = l->cur;
    e->seq = l->seq++;
    l->n_events++;
    /* tail: keep memory at about twice the tail however long the log */
    if (l->opts.tail && l->n_events >= 2 * l->opts.tail + 1024) {
        qsort(l->events, l->n_events, sizeof *l->events, cmp_event);
        size_t drop = l->n_events - l->opts.tail;
        for (size_t i = 0; i < drop; i++)
            free(l->events[i].message);
        memmove(l->events, l->events + drop, l->opts.tail * sizeof *l->events);
        l->n_events = l->opts.tail;
    }
    return 0;
}

static void next_stream(smneo_joblogs *l)
{
    if (++l->cur >= l->n_streams)
        round_read(l);
}

static void read_answered(smneo_joblogs *l, int rc, const smneo_result *r)
{
    if (rc && l->err.service_code && !strcmp(l->err.service_code, "ResourceNotFoundException")) {
        smneo_error_clear(&l->err); /* the stream went away: nothing to read there */
        next_stream(l);
        return;
    }
    if (rc && is_denied(&l->err)) {
        int w = warn_unreadable(l, &l->err);
        smneo_error_clear(&l->err);
        if (w) {
            fail_nomem(l);
            return;
        }
        l->terminal = l->last_round = 1; /* hand out what was read, then stop */
        round_read(l);
        return;
    }
    if (rc) {
        done(l, rc);
        return;
    }
    const cJSON *root = smneo__result_root_node(r);
    const cJSON *e, *events = cJSON_GetObjectItemCaseSensitive(root, "events");
    cJSON_ArrayForEach(e, events)
    {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "timestamp");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (!cJSON_IsNumber(ts) || !cJSON_IsString(m))
            continue;
        if (add_event(l, (int64_t)ts->valuedouble, m->valuestring)) {
            fail_nomem(l);
            return;
        }
    }
    jl_stream *s = &l->streams[l->cur];
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "nextForwardToken");
    /* GetLogEvents' own rule: the end is the token sent coming back (always
     * present; not the repeated-token error of a paginator). */
    int end = !cJSON_IsString(t) || !*t->valuestring || (s->token && !strcmp(s->token, t->valuestring));
    if (cJSON_IsString(t) && *t->valuestring && !end) {
        free(s->token);
        if (!(s->token = smneo__strdup(t->valuestring))) {
            fail_nomem(l);
            return;
        }
    }
    if (l->budget && !l->terminal) {
        /* one page a round: this stream again if it has more, else the next;
         * after the last one, the next round lists the streams again */
        if (end && ++l->rr >= l->n_streams) {
            l->rr = 0;
            l->need_list = 1;
        }
        round_read(l);
        return;
    }
    if (end) {
        next_stream(l);
        return;
    }
    /* PH_READ again: the same stream from its new token */
}

static int terminal_status(const char *s)
{
    return s && (!strcmp(s, "COMPLETED") || !strcmp(s, "FAILED") || !strcmp(s, "STOPPED"));
}

static void status_answered(smneo_joblogs *l, int rc, smneo_result *r)
{
    if (rc) {
        smneo_result_free(r);
        done(l, rc);
        return;
    }
    smneo_result_free(l->description);
    l->description = r;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(smneo__result_root_node(r), "CompilationJobStatus");
    const char *status = cJSON_IsString(st) ? st->valuestring : NULL;
    if (status && (!l->status || strcmp(status, l->status))) {
        free(l->status);
        if (!(l->status = smneo__strdup(status))) {
            fail_nomem(l);
            return;
        }
        l->pending = PENDING_STATUS;
    }
    if (terminal_status(status)) {
        l->terminal = 1; /* one more round reads the last lines */
        l->phase = PH_STREAMS;
        return;
    }
    double d = l->opts.delay * pow(2.0, l->polls_quiet);
    if (d > l->opts.max_delay)
        d = l->opts.max_delay;
    l->wake_ms = smneo__monotonic_ms() + (int64_t)(d * 1000);
    l->phase = PH_SLEEP;
}

/* ---- driving ---------------------------------------------------------------------------------------- */

static void sub_done(smneo_joblogs *l)
{
    smneo_result *r = NULL;
    smneo_error_clear(&l->err);
    int rc = smneo_call_result(&r, l->sub, &l->err);
    smneo_call_free(l->sub);
    l->sub = NULL;
    switch (l->sub_op) {
    case PH_STREAMS:
        list_answered(l, rc, r);
        smneo_result_free(r);
        break;
    case PH_READ:
        read_answered(l, rc, r);
        smneo_result_free(r);
        break;
    default:
        status_answered(l, rc, r);
        break;
    }
}

/* After a round's events are out. */
static void round_over(smneo_joblogs *l)
{
    int got = l->n_events > 0;
    clear_events(l);
    if (!l->opts.follow || l->last_round) {
        done(l, 0);
        return;
    }
    if (l->terminal) {
        /* the round after the job's end has been read */
        done(l, 0);
        return;
    }
    l->polls_quiet = got ? 0 : l->polls_quiet < 30 ? l->polls_quiet + 1 : l->polls_quiet;
    l->phase = PH_STATUS;
}

void smneo_joblogs_step(smneo_step *out, smneo_joblogs *l)
{
    memset(out, 0, sizeof *out);
    if (!l) {
        out->kind = SMNEO_STEP_DONE;
        return;
    }
    for (;;) {
        if (l->pending) {
            out->kind = SMNEO_STEP_EVENT;
            out->event = l->pending == PENDING_LOG       ? SMNEO_EVENT_LOG
                       : l->pending == PENDING_WARNING   ? SMNEO_EVENT_WARNING
                                                         : SMNEO_EVENT_STATUS;
            l->pending = PENDING_NONE;
            return;
        }
        if (l->cancelled && l->phase != PH_DONE) {
            smneo_error_clear(&l->err);
            smneo__error(&l->err, SMNEO_ECANCELLED, "cancelled by the caller");
            done(l, SMNEO_ECANCELLED);
        }
        if (l->sub) {
            smneo_call_next(out, l->sub);
            if (out->kind == SMNEO_STEP_SEND || out->kind == SMNEO_STEP_SLEEP)
                return;
            if (out->kind == SMNEO_STEP_DONE) {
                sub_done(l);
                memset(out, 0, sizeof *out);
            }
            continue;
        }
        int rc = 0;
        switch (l->phase) {
        case PH_DONE:
            out->kind = SMNEO_STEP_DONE;
            return;
        case PH_STREAMS:
            if (l->terminal && !l->last_round)
                l->last_round = 1;
            if (l->budget && !l->terminal && !l->need_list && l->n_streams > 0) {
                l->cur = l->rr < l->n_streams ? l->rr : 0;
                l->phase = PH_READ;
                continue;
            }
            rc = start_list(l);
            break;
        case PH_READ:
            rc = start_read(l);
            break;
        case PH_STATUS:
            rc = start_status(l);
            break;
        case PH_SLEEP: {
            int64_t left = l->wake_ms - smneo__monotonic_ms();
            if (left > 0) {
                out->kind = SMNEO_STEP_SLEEP;
                out->sleep_ms = left > MAX_SLEEP_STEP_MS ? MAX_SLEEP_STEP_MS : (long)left;
                return;
            }
            l->phase = PH_STREAMS;
            continue;
        }
        case PH_EMIT:
            if (l->emit_at < l->n_events) {
                const jl_event *e = &l->events[l->emit_at++];
                l->current.timestamp = e->ts;
                l->current.message = e->message;
                l->current.message_len = strlen(e->message);
                l->current.stream = l->streams[e->stream].name;
                l->pending = PENDING_LOG;
                continue;
            }
            round_over(l);
            continue;
        }
        if (rc) {
            if (!l->err.code)
                smneo__error(&l->err, rc, "%s", rc == SMNEO_ENOMEM ? "out of memory" : "the request failed");
            done(l, rc);
        }
    }
}

void smneo_joblogs_feed(smneo_joblogs *l, smneo_response *resp, int transport_error, const char *msg)
{
    if (!l || !l->sub) {
        smneo_response_free(resp);
        return;
    }
    smneo_call_feed(l->sub, resp, transport_error, msg);
}

void smneo_joblogs_send(smneo_joblogs *l, const smneo_step *step)
{
    if (l && l->sub)
        smneo_call_send(l->sub, step);
}

int smneo_joblogs_event(smneo_log_event *out, const smneo_joblogs *l)
{
    if (!out || !l || !l->current.message)
        return SMNEO_EINVAL;
    *out = l->current;
    return 0;
}

const char *smneo_joblogs_warning(const smneo_joblogs *l)
{
    return l && l->n_warnings ? l->warnings[l->n_warnings - 1] : NULL;
}

size_t smneo_joblogs_warning_count(const smneo_joblogs *l) { return l ? l->n_warnings : 0; }

const char *smneo_joblogs_warning_at(const smneo_joblogs *l, size_t i)
{
    return l && i < l->n_warnings ? l->warnings[i] : NULL;
}

const smneo_result *smneo_joblogs_description(const smneo_joblogs *l) { return l ? l->description : NULL; }
const char *smneo_joblogs_status(const smneo_joblogs *l) { return l ? l->status : NULL; }

void smneo__joblogs_one_request_per_round(smneo_joblogs *l)
{
    if (l && l->opts.follow) {
        l->budget = 1;
        l->need_list = 1;
    }
}

smneo_result *smneo__joblogs_take_description(smneo_joblogs *l)
{
    smneo_result *r = l ? l->description : NULL;
    if (l)
        l->description = NULL;
    return r;
}

void smneo_joblogs_cancel(smneo_joblogs *l)
{
    if (l) {
        l->cancelled = 1;
        if (l->sub)
            smneo_call_cancel(l->sub);
    }
}

int smneo_joblogs_result(smneo_joblogs *l, smneo_error *err)
{
    if (!l || l->phase != PH_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the job log reader has not finished");
    if (l->rc && err) {
        smneo_error_clear(err);
        *err = l->err;
        memset(&l->err, 0, sizeof l->err);
        err->code = l->rc;
        if (!err->message)
            smneo__error(err, l->rc, "%s", smneo_strerror(l->rc));
    }
    return l->rc;
}

int smneo_joblogs_next(smneo_log_event *out, smneo_joblogs *l, smneo_error *err)
{
    if (!out || !l)
        return smneo__error(err, SMNEO_EINVAL, "out and reader must not be NULL");
    for (;;) {
        smneo_step step;
        smneo_joblogs_step(&step, l);
        switch (step.kind) {
        case SMNEO_STEP_SEND:
            smneo_joblogs_send(l, &step);
            break;
        case SMNEO_STEP_SLEEP:
            smneo__sleep_ms(step.sleep_ms);
            break;
        case SMNEO_STEP_WORK: /* not a step of the log reader */
            break;
        case SMNEO_STEP_EVENT:
            if (step.event == SMNEO_EVENT_LOG)
                return smneo_joblogs_event(out, l);
            break;
        case SMNEO_STEP_WAIT: /* S3 transfers only: never from a call (as DONE, not a hang) */
        case SMNEO_STEP_TRANSFER: /* a compile machine that opted in only */
        case SMNEO_STEP_DONE: {
            int rc = smneo_joblogs_result(l, err);
            return rc ? rc : SMNEO_ITEROVER;
        }
        }
    }
}
