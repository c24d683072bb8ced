/* vg_http's cameras (http_internal.h): the list, adding one (a flat JSON
 * body) and its rules. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/http_internal.h"

/* ---- cameras ------------------------------------------------------------*/

static const char *live_state_name(int s)
{
    static const char *const names[] = {"connecting", "live",    "stalled",
                                        "dropped",    "backoff", "stopped"};
    if (s < 0)
        return "file";
    return s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "stopped";
}

void vgi_http_camera_json(vgi_jbuf *b, const vg_job_stream_status *ss)
{
    int w = ss->width > 0 ? ss->width : ss->stats.width;
    int hh = ss->width > 0 ? ss->height : ss->stats.height;
    vgi_jbuf_raw(b, "{\"name\":");
    vgi_jbuf_str(b, ss->name);
    vgi_jbuf_raw(b, ",\"input\":");
    vgi_jbuf_str(b, ss->input);
    vgi_jbuf_raw(b, ",\"state\":");
    vgi_jbuf_str(b, vg_job_stream_state_name(ss->state));
    vgi_jbuf_raw(b, ",\"live_state\":");
    vgi_jbuf_str(b, live_state_name(ss->live_state));
    vgi_jbuf_raw(b, ",\"fps\":");
    vgi_jbuf_num(b, round(ss->fps * 100) / 100);
    vgi_jbuf_raw(b, ",\"detect_fps\":");
    vgi_jbuf_num(b, round(ss->detect_fps * 100) / 100);
    vgi_jbuf_printf(b,
                    ",\"frames\":%lld,\"frames_dropped\":%lld,\"reconnects\":"
                    "%lld,\"memory_bytes\":%lld,\"width\":%d,\"height\":%d,"
                    "\"error\":",
                    (long long)ss->frames, (long long)ss->frames_dropped,
                    (long long)ss->reconnects, (long long)ss->memory_bytes, w,
                    hh);
    vgi_jbuf_str(b, ss->end_code < 0 ? ss->message : "");
    vgi_jbuf_raw(b, "}");
}

enum MHD_Result vgi_http_do_cameras(struct vg_http *h, struct MHD_Connection *c)
{
    vg_job_stream_status *ss = malloc(sizeof(*ss));
    int n = vg_job_stream_count(h->job), first = 1;
    size_t cap = 64 + (size_t)(n > 0 ? n : 1) * 2048;
    char *out = malloc(cap);
    vgi_jbuf b;
    if (!ss || !out) {
        free(ss);
        free(out);
        return vgi_http_send_error(h, c, 503, "out of memory");
    }
    vgi_jbuf_init(&b, out, cap);
    vgi_jbuf_raw(&b, "{\"cameras\":[");
    for (int i = 0; i < n; i++) {
        if (vg_job_stream_get(h->job, i, ss) < 0 ||
            ss->state == VG_JOB_STREAM_REMOVED)
            continue;
        if (!first)
            vgi_jbuf_raw(&b, ",");
        vgi_http_camera_json(&b, ss);
        first = 0;
    }
    vgi_jbuf_raw(&b, "]}\n");
    free(ss);
    if (b.overflow) {
        free(out);
        return vgi_http_send_error(h, c, 500, "cameras: answer too long");
    }
    return vgi_http_send_owned(c, 200, "application/json", out, b.len);
}

/* A flat JSON object of string / boolean members. Returns 0, or -1 with
 * msg naming the offending field. */
typedef struct add_body {
    char name[64];
    char input[VG_PATH_MAX];
    int loop;
    int have_name, have_input;
} add_body;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A JSON string at p (after the quote is checked) into out; returns the
 * position after it or NULL. */
static const char *parse_string(const char *p, const char *end, char *out,
                                size_t cap, int *too_long)
{
    size_t n = 0;
    *too_long = 0;
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end && *p != '"'; p++) {
        char ch = *p;
        if ((unsigned char)ch < 0x20)
            return NULL;
        if (ch == '\\') {
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
                ch = *p;
                break;
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            default:
                return NULL; /* \u escapes are not needed in names/URLs */
            }
        }
        if (n + 1 >= cap)
            *too_long = 1;
        else
            out[n++] = ch;
    }
    if (p >= end)
        return NULL;
    out[n] = '\0';
    return p + 1;
}

static int parse_add_body(const char *s, size_t len, add_body *a, char *msg,
                          size_t cap)
{
    const char *p = s, *end = s + len;
    char key[64];
    int too_long;
    memset(a, 0, sizeof(*a));
    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        snprintf(msg, cap, "body: not a JSON object");
        return -1;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        p = skip_ws(p, end);
        p = parse_string(p, end, key, sizeof(key), &too_long);
        if (p == NULL || too_long) {
            snprintf(msg, cap, "body: malformed JSON (a member name)");
            return -1;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            snprintf(msg, cap, "body: malformed JSON after \"%s\"", key);
            return -1;
        }
        p = skip_ws(p + 1, end);
        if (!strcmp(key, "name") || !strcmp(key, "input")) {
            int is_name = key[0] == 'n';
            if (p >= end || *p != '"') {
                snprintf(msg, cap, "%s: must be a string", key);
                return -1;
            }
            p = parse_string(p, end, is_name ? a->name : a->input,
                             is_name ? sizeof(a->name) : sizeof(a->input),
                             &too_long);
            if (p == NULL) {
                snprintf(msg, cap, "%s: malformed string", key);
                return -1;
            }
            if (too_long) {
                snprintf(msg, cap, "%s: too long", key);
                return -1;
            }
            *(is_name ? &a->have_name : &a->have_input) = 1;
        } else if (!strcmp(key, "loop")) {
            if ((size_t)(end - p) >= 4 && !strncmp(p, "true", 4)) {
                a->loop = 1;
                p += 4;
            } else if ((size_t)(end - p) >= 5 && !strncmp(p, "false", 5)) {
                a->loop = 0;
                p += 5;
            } else {
                snprintf(msg, cap, "loop: must be true or false");
                return -1;
            }
        } else {
            snprintf(msg, cap, "%s: unknown field (name, input, loop)", key);
            return -1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        snprintf(msg, cap, "body: malformed JSON after \"%s\"", key);
        return -1;
    }
done:
    if (skip_ws(p, end) != end) {
        snprintf(msg, cap, "body: text after the JSON object");
        return -1;
    }
    if (!a->have_name) {
        snprintf(msg, cap, "name: required");
        return -1;
    }
    if (!a->have_input) {
        snprintf(msg, cap, "input: required");
        return -1;
    }
    return 0;
}

enum MHD_Result vgi_http_do_add(struct vg_http *h, struct MHD_Connection *c,
                                request *r)
{
    add_body a;
    char msg[ERR_CAP], out[128];
    int rc;
    vgi_jbuf b;
    if (parse_add_body(r->body ? r->body : "", r->body_len, &a, msg,
                       sizeof(msg)) < 0)
        return vgi_http_send_error(h, c, 400, "%s", msg);
    rc = vg_serve_add_camera(h->serve, a.name, a.input, a.loop, msg,
                             sizeof(msg));
    if (rc == VG_EEXIST)
        return vgi_http_send_error(h, c, 409, "%s", msg);
    if (rc < 0)
        return vgi_http_send_error(h, c, 400, "%s", msg);
    vgi_jbuf_init(&b, out, sizeof(out));
    vgi_jbuf_raw(&b, "{\"name\":");
    vgi_jbuf_str(&b, a.name);
    vgi_jbuf_raw(&b, "}\n");
    return vgi_http_send_copy(c, 201, "application/json", out, b.len);
}

enum MHD_Result vgi_http_do_rules(struct vg_http *h, struct MHD_Connection *c,
                                  request *r, const char *method)
{
    char msg[ERR_CAP];
    int rc;
    if (!strcmp(method, "PUT")) {
        rc = vg_serve_put_rules(h->serve, r->name, r->body ? r->body : "",
                                r->body_len, msg, sizeof(msg));
        if (rc == VG_ENOENT)
            return vgi_http_send_error(h, c, 404, "no camera '%s'", r->name);
        if (rc == VG_ECONFIG)
            return vgi_http_send_error(h, c, 400, "%s", msg);
        if (rc < 0)
            return vgi_http_send_error(h, c, 500, "%s", msg);
        return vgi_http_send_copy(c, 200, "application/json",
                                  rc == 1 ? "{\"saved\":true}\n"
                                          : "{\"saved\":false}\n",
                                  rc == 1 ? 15 : 16);
    }
    {
        /* small first (the usual case), the largest possible once */
        size_t cap = 16 * 1024;
        char *out = malloc(cap);
        if (out == NULL)
            return vgi_http_send_error(h, c, 503, "out of memory");
        rc = vg_serve_rules_json(h->serve, r->name, out, cap);
        if (rc == VG_ERANGE) {
            char *big = realloc(out, cap = 1024 * 1024);
            if (big == NULL) {
                free(out);
                return vgi_http_send_error(h, c, 503, "out of memory");
            }
            out = big;
            rc = vg_serve_rules_json(h->serve, r->name, out, cap);
        }
        if (rc == VG_ENOENT) {
            free(out);
            return vgi_http_send_error(h, c, 404, "no camera '%s'", r->name);
        }
        if (rc < 0) {
            free(out);
            return vgi_http_send_error(h, c, 500, "rules of '%s': %s", r->name,
                                       vg_strerror(rc));
        }
        return vgi_http_send_owned(c, 200, "application/json", out, (size_t)rc);
    }
}
