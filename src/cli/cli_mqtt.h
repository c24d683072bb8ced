/*
 * The CLI's MQTT publisher beside a running job (`vigil run`; the service
 * may use it too): created after vg_job_start (the event store exists),
 * camera states published at start and at the end.
 */
#ifndef VIGIL_CLI_MQTT_H
#define VIGIL_CLI_MQTT_H

#include "vigil/config.h"
#include "vigil/jobrun.h"
#include "vigil/mqtt.h"

/* When s->mqtt_enabled: creates and starts the publisher of out_dir's event
 * store and publishes every camera's state. A failure is logged as a
 * warning (the events stay in the outbox for the next run) and *m stays
 * NULL. */
void cli_mqtt_start(vg_context *ctx, const vg_settings *s, const char *out_dir,
                    vg_job *job, vg_mqtt **m);

/* Publishes every camera's final state, drains and stops the publisher,
 * and frees it (accepts a NULL *m). */
void cli_mqtt_finish(vg_context *ctx, vg_mqtt **m, vg_job *job);

#endif
