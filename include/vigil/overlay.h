/*
 * vg_overlay: annotations for the output video, drawn on RGB24 pictures
 * (3 bytes per pixel, rows stride bytes apart): tracked boxes with their id
 * and class (a colour per track id), zone outlines, directed lines with
 * their direction arrow, and a strip with the most recent events.
 *
 *   vg_overlay *ov;
 *   vg_overlay_create(ctx, 4, &ov);            // strip of the last 4 events
 *   vg_overlay_draw_polygon(rgb, w, h, stride, zone_xy, 4, 2, 0, 255, 255);
 *   vg_overlay_draw_directed_line(rgb, w, h, stride, x0, y0, x1, y1, 1,
 *                                 255, 255, 0);
 *   vg_overlay_draw_track(rgb, w, h, stride, &box, 12, "person", 0.9f);
 *   vg_overlay_push_event(ov, &ev);            // when an event is raised
 *   vg_overlay_draw_events(ov, rgb, w, h, stride);
 *   vg_overlay_destroy(&ov);
 *
 * Drawing is clipped to the picture: shapes partly or wholly outside are
 * drawn in part or not at all, never out of bounds, whatever the
 * coordinates (lines with a NaN or infinite end are not drawn). The draw
 * functions keep no state and allocate nothing. Thread-safety: the stateless
 * functions may run in parallel on different pictures; one vg_overlay is used
 * by one thread at a time.
 */
#ifndef VIGIL_OVERLAY_H
#define VIGIL_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/event.h"

typedef struct vg_overlay vg_overlay;

/* Colour of a track id: a fixed palette indexed by the id, so one object
 * keeps its colour; ids < 0 are white. */
void vg_overlay_track_color(int64_t track_id, uint8_t rgb[3]);

/* Outlines box in the track's colour with a label "#ID CLASS 0.87" above it
 * (inside when there is no room above). class_name may be NULL; score < 0
 * leaves it out; track_id < 0 leaves the id out. */
void vg_overlay_draw_track(uint8_t *rgb, int w, int h, int stride,
                           const vg_box *box, int64_t track_id,
                           const char *class_name, float score);

/* A straight line thickness pixels wide (square pen centred on the line). */
void vg_overlay_draw_line(uint8_t *rgb, int w, int h, int stride, float x0,
                          float y0, float x1, float y1, int thickness,
                          uint8_t r, uint8_t g, uint8_t b);

/* The closed outline of the polygon xy[0..2n) = x0, y0, x1, y1, ... */
void vg_overlay_draw_polygon(uint8_t *rgb, int w, int h, int stride,
                             const float *xy, int n, int thickness, uint8_t r,
                             uint8_t g, uint8_t b);

/* An arrow from (x0, y0) to (x1, y1) with its head at (x1, y1). */
void vg_overlay_draw_arrow(uint8_t *rgb, int w, int h, int stride, float x0,
                           float y0, float x1, float y1, int thickness,
                           uint8_t r, uint8_t g, uint8_t b);

/* The line from P0 = (x0, y0) to P1 = (x1, y1) and, from its midpoint, an
 * arrow across it showing the counted direction: towards the side of
 * n = (-(y1 - y0), x1 - x0) (picture coordinates, y down: the right-hand
 * side walking from P0 to P1) when direction > 0, the other side when
 * direction < 0, both when 0. */
void vg_overlay_draw_directed_line(uint8_t *rgb, int w, int h, int stride,
                                   float x0, float y0, float x1, float y1,
                                   int direction, uint8_t r, uint8_t g,
                                   uint8_t b);

/* Creates an overlay holding a ring of the last max_events (1..64) events.
 * Returns 0, VG_EINVAL or VG_ENOMEM; *out is NULL on failure. */
int vg_overlay_create(vg_context *ctx, int max_events, vg_overlay **out);

/* Remembers the event's time, rule, kind and track id (the oldest is
 * forgotten when the ring is full). No allocation. */
void vg_overlay_push_event(vg_overlay *o, const vg_event *ev);

/* Events in the ring now (<= max_events). */
int vg_overlay_event_count(const vg_overlay *o);

/* Draws the remembered events as text lines at the bottom of the picture,
 * the newest last, on a dark band: "T+00:12.4 RULE #ID KIND". */
void vg_overlay_draw_events(const vg_overlay *o, uint8_t *rgb, int w, int h,
                            int stride);

void vg_overlay_destroy(vg_overlay **o);

#endif
