/* Internal to the tracker (and its tests): the Kalman filter and the linear
 * assignment solver. */
#ifndef VIGIL_TRACK_INTERNAL_H
#define VIGIL_TRACK_INTERNAL_H

#include <stddef.h>

/* ---- Kalman filter ---------------------------------------------------------
 * State (x, y, a, h, vx, vy, va, vh): box centre, aspect ratio w / h, height
 * and their velocities per frame; constant-velocity motion. The process and
 * measurement noise scale with the height, so that a box far away (small)
 * and one near (large) are equally certain relative to their size. */
typedef struct vgi_kalman {
    double mean[8];
    double cov[64]; /* row-major 8x8 */
} vgi_kalman;

/* Starts a filter at measurement z = (x, y, a, h), velocities 0. */
void vgi_kalman_init(vgi_kalman *k, const double z[4]);

/* Advances one frame. */
void vgi_kalman_predict(vgi_kalman *k);

/* Corrects with measurement z = (x, y, a, h). Returns 0, or -1 when the
 * innovation covariance is not positive definite (the state is unchanged). */
int vgi_kalman_update(vgi_kalman *k, const double z[4]);

/* ---- linear assignment (Jonker-Volgenant) ----------------------------------
 * Minimum-cost assignment over a rows x cols cost matrix (row-major floats)
 * where leaving a row or a column unassigned costs cost_limit / 2: a pair is
 * only assigned when that pays, so no assigned pair costs more than
 * cost_limit and the total of (cost - cost_limit) over assigned pairs is the
 * least possible. cost_limit = INFINITY assigns min(rows, cols) pairs of
 * least total cost. Costs must be finite.
 *
 * row_to_col[rows] and col_to_row[cols] receive the partner or -1. scratch
 * holds vgi_lap_scratch_bytes(max_rows, max_cols) bytes, aligned for double,
 * for rows <= max_rows and cols <= max_cols. Returns the number of pairs.
 * Never allocates. */
size_t vgi_lap_scratch_bytes(int max_rows, int max_cols);
int vgi_lap_solve(const float *cost, int rows, int cols, float cost_limit,
                  int *row_to_col, int *col_to_row, void *scratch);

#endif
