/*
 * `vigil run`'s MQTT publisher (include: cli_mqtt.h).
 */
#include "cli/cli_mqtt.h"

#include <stdio.h>

static void publish_states(vg_mqtt *m, vg_job *job)
{
    vg_job_stream_status st;
    char json[256];

    for (int i = 0; i < vg_job_stream_count(job); i++) {
        if (vg_job_stream_get(job, i, &st) < 0)
            continue;
        /* camera names are [A-Za-z0-9_-]: no escaping needed */
        snprintf(json, sizeof(json),
                 "{\"camera\":\"%s\",\"state\":\"%s\",\"frames\":%lld,"
                 "\"end_code\":%d}",
                 st.name, vg_job_stream_state_name(st.state),
                 (long long)st.frames, st.end_code);
        vg_mqtt_publish_state(m, st.name, json);
    }
}

void cli_mqtt_start(vg_context *ctx, const vg_settings *s, const char *out_dir,
                    vg_job *job, vg_mqtt **m)
{
    vg_mqtt_opts o;
    char db[1024];

    *m = NULL;
    if (!s->mqtt_enabled)
        return;
    snprintf(db, sizeof(db), "%s/events.db", out_dir);
    vg_mqtt_opts_from_settings(s, &o);
    o.db_path = db;
    if (vg_mqtt_create(ctx, &o, m) < 0 || vg_mqtt_start(*m) < 0) {
        vg_log(ctx, VG_LOG_WARN,
               "%s (MQTT off for this run; events stay in the outbox)",
               vg_context_errmsg(ctx));
        vg_context_clear_error(ctx);
        vg_mqtt_destroy(m);
        return;
    }
    publish_states(*m, job);
}

void cli_mqtt_finish(vg_context *ctx, vg_mqtt **m, vg_job *job)
{
    vg_mqtt_stats st;

    if (!*m)
        return;
    publish_states(*m, job);
    vg_mqtt_stop(*m);
    vg_mqtt_stats_get(*m, &st);
    vg_log(ctx, VG_LOG_INFO,
           "mqtt: %llu events published (%llu acknowledged), %lld left in "
           "the outbox, %llu connections",
           (unsigned long long)st.published, (unsigned long long)st.acked,
           (long long)st.pending, (unsigned long long)st.connects);
    vg_mqtt_destroy(m);
}
