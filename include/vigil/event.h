/*
 * vg_event: one alarm raised by a rule, as the rules engine hands it to the
 * sinks (SQLite, JSONL, snapshots, the annotated video's event strip).
 * A plain value: no pointers, copied freely, no ownership.
 *
 *   vg_event ev;  ... filled by vg_rules_update() ...
 *   vg_events_write(sink, &ev, &frame);   // assigns ev.id, writes snapshot
 */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdint.h>

#include "vigil/detect.h"

enum vg_event_kind {
    VG_EVENT_INTRUSION = 0, /* an object entered a zone */
    VG_EVENT_DWELL = 1,     /* an object stayed in a zone longer than T */
    VG_EVENT_CROSSING = 2,  /* an object crossed a directed line */
    VG_EVENT_OCCUPANCY = 3  /* more than N objects in a zone for T */
};

typedef struct vg_event {
    int64_t id;          /* assigned by the event store (0 before) */
    int kind;            /* enum vg_event_kind */
    double time_s;       /* stream time of the frame that raised it */
    int64_t frame_index; /* 0-based frame index in its stream */
    int64_t wall_ms;     /* Unix time in milliseconds when raised */
    char stream[64];     /* stream name (the input's base name by default) */
    char rule[64];       /* rule name from the config */
    char zone[64];       /* zone or line name */
    char direction[8];   /* crossings: "A>B" or "B>A"; "" otherwise */
    int64_t track_id;    /* the object; -1 for occupancy */
    int class_id;
    char class_name[32];
    float score;
    vg_box box;         /* the object's box in source pixels */
    int count;          /* occupancy: objects in the zone; 1 otherwise */
    char snapshot[256]; /* snapshot path relative to the output dir, or "" */
    char direction_name[32]; /* crossings: the line's name for the
                                direction ("northbound"), else "" */
} vg_event;

/* "intrusion", "dwell", "line_crossing", "occupancy". */
const char *vg_event_kind_name(int kind);

#endif
