/* Linear assignment by the Jonker-Volgenant method (column reduction,
 * reduction transfer, augmenting row reduction, then shortest augmenting
 * paths), for rectangular cost matrices with a cost limit.
 *
 * The rows x cols problem is solved as a square one of side rows + cols,
 * never stored: a real row may go to one of `rows` dummy columns and a real
 * column to one of `cols` dummy rows at cost_limit / 2 each; dummy row to
 * dummy column costs 0. Leaving a pair unassigned thus costs cost_limit, and
 * a pair costing more than the limit is never worth taking (it is priced
 * above the limit so that the optimum avoids it even on ties). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "track/track_internal.h"

typedef struct lap_problem {
    const float *cost;
    int stride;             /* columns of the caller's matrix */
    const int *rmap, *cmap; /* problem row/column -> caller's */
    int rows, cols;
    double shift;  /* subtracted from every real cost */
    double limit;  /* real costs above it are forbidden */
    double half;   /* price of a dummy pairing */
    double forbid; /* price of a forbidden pair */
} lap_problem;

static inline double at(const lap_problem *p, int i, int j)
{
    if (i < p->rows) {
        if (j < p->cols) {
            double c = (double)p->cost[(size_t)p->rmap[i] * (size_t)p->stride +
                                       (size_t)p->cmap[j]];
            return c > p->limit ? p->forbid : c - p->shift;
        }
        return p->half;
    }
    return j < p->cols ? p->half : 0.0;
}

size_t vgi_lap_scratch_bytes(int max_rows, int max_cols)
{
    size_t n = (size_t)max_rows + (size_t)max_cols;
    /* v, d (double); x, y, pred, free, rmap + cmap, parent, has_pair,
     * row_end, col_end (int); done (char) */
    return n * (2 * sizeof(double) + 9 * sizeof(int) + 1);
}

/* Solves the square problem of side p->rows + p->cols (real rows and
 * columns through p->rmap / p->cmap, dummies beyond) into x / y. */
static void jv_solve(const lap_problem *pp, double *v, double *d, int *x,
                     int *y, int *pred, int *freel, unsigned char *done)
{
    const lap_problem p = *pp;
    int n, nfree = 0;

    n = p.rows + p.cols;
    for (int i = 0; i < n; i++) {
        x[i] = -1;
        y[i] = -1;
        done[i] = 0; /* here: row assigned more than once in reduction */
    }

    /* Column reduction: each column's price is its least cost; a row that is
     * the least of one column only takes that column. */
    for (int j = n - 1; j >= 0; j--) {
        int imin = 0;
        double m = at(pp, 0, j);
        for (int i = 1; i < n; i++) {
            double c = at(pp, i, j);
            if (c < m) {
                m = c;
                imin = i;
            }
        }
        v[j] = m;
        if (x[imin] < 0) {
            x[imin] = j;
            y[j] = imin;
        } else {
            done[imin] = 1;
        }
    }

    /* Reduction transfer: a row assigned once hands its slack to its column
     * price, so that its column is no cheaper to it than the next best. */
    for (int i = 0; i < n; i++) {
        int j1 = x[i];
        double mu = INFINITY;
        if (j1 < 0 || done[i])
            continue;
        for (int j = 0; j < n; j++)
            if (j != j1)
                mu = fmin(mu, at(pp, i, j) - v[j]);
        if (isfinite(mu))
            v[j1] -= mu;
    }

    for (int i = 0; i < n; i++)
        if (x[i] < 0)
            freel[nfree++] = i;

    /* Augmenting row reduction, twice: a free row takes its cheapest column,
     * lowering that column's price to the row's second best; the row it
     * displaces is processed next. Bounded, as ties could cycle; the rows
     * left free are handled by the augmentation below. */
    for (int pass = 0; pass < 2 && nfree > 0; pass++) {
        int k = 0, prev = nfree;
        long guard = 4L * n * n;
        nfree = 0;
        while (k < prev) {
            int i = freel[k++], j1 = -1, j2 = -1, i0;
            double u1 = INFINITY, u2 = INFINITY;
            for (int j = 0; j < n; j++) {
                double h = at(pp, i, j) - v[j];
                if (h < u2) {
                    if (h < u1) {
                        u2 = u1;
                        j2 = j1;
                        u1 = h;
                        j1 = j;
                    } else {
                        u2 = h;
                        j2 = j;
                    }
                }
            }
            i0 = y[j1];
            if (u1 < u2) {
                if (isfinite(u2))
                    v[j1] -= u2 - u1;
            } else if (i0 >= 0 && j2 >= 0) {
                j1 = j2;
                i0 = y[j2];
            }
            if (i0 >= 0)
                x[i0] = -1;
            x[i] = j1;
            y[j1] = i;
            if (i0 >= 0) {
                if (u1 < u2 && --guard > 0)
                    freel[--k] = i0;
                else
                    freel[nfree++] = i0;
            }
        }
    }

    /* Shortest augmenting path (Dijkstra over reduced costs) from every
     * row still free, then the prices of the columns settled on the way are
     * lowered so that every assigned pair stays tight. */
    nfree = 0;
    for (int i = 0; i < n; i++)
        if (x[i] < 0)
            freel[nfree++] = i;
    for (int f = 0; f < nfree; f++) {
        int row = freel[f], end = -1;
        double mu = 0;
        for (int j = 0; j < n; j++) {
            d[j] = at(pp, row, j) - v[j];
            pred[j] = row;
            done[j] = 0;
        }
        for (;;) {
            int jmin = -1, i;
            double ui;
            mu = INFINITY;
            for (int j = 0; j < n; j++) {
                if (done[j])
                    continue;
                if (jmin < 0 || d[j] < mu ||
                    (d[j] == mu && y[j] < 0 && y[jmin] >= 0)) {
                    mu = d[j];
                    jmin = j;
                }
            }
            if (y[jmin] < 0) {
                end = jmin;
                break;
            }
            done[jmin] = 1;
            i = y[jmin];
            ui = at(pp, i, jmin) - v[jmin];
            for (int j = 0; j < n; j++) {
                double nd;
                if (done[j])
                    continue;
                nd = mu + at(pp, i, j) - v[j] - ui;
                if (nd < d[j]) {
                    d[j] = nd;
                    pred[j] = i;
                }
            }
        }
        for (int j = 0; j < n; j++)
            if (done[j])
                v[j] += d[j] - mu;
        for (int j = end;;) {
            int i = pred[j], next = x[i];
            y[j] = i;
            x[i] = j;
            if (i == row)
                break;
            j = next;
        }
    }
}

/* Union-find root with path halving. */
static int root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* Writes the real pairs of the solved problem p (x over its rows) within
 * the limit to the caller's arrays; returns how many. */
static int write_pairs(const lap_problem *p, const int *x, const float *cost,
                       int cols, int *row_to_col, int *col_to_row)
{
    int pairs = 0;
    for (int i = 0; i < p->rows; i++) {
        int j = x[i], ri, cj;
        if (j < 0 || j >= p->cols)
            continue;
        ri = p->rmap[i];
        cj = p->cmap[j];
        if ((double)cost[(size_t)ri * (size_t)cols + cj] <= p->limit) {
            row_to_col[ri] = cj;
            col_to_row[cj] = ri;
            pairs++;
        }
    }
    return pairs;
}

int vgi_lap_solve(const float *cost, int rows, int cols, float cost_limit,
                  int *row_to_col, int *col_to_row, void *scratch)
{
    lap_problem p;
    int pairs = 0, nr = 0;
    double *v, *d;
    int *x, *y, *pred, *freel, *rmap, *cmap, *parent, *comp, *rend, *cend;
    unsigned char *done;

    for (int i = 0; i < rows; i++)
        row_to_col[i] = -1;
    for (int j = 0; j < cols; j++)
        col_to_row[j] = -1;
    if (rows <= 0 || cols <= 0)
        return 0;

    v = scratch;
    d = v + (rows + cols);
    x = (int *)(d + (rows + cols));
    y = x + (rows + cols);
    pred = y + (rows + cols);
    freel = pred + (rows + cols);
    rmap = freel + (rows + cols);
    cmap = rmap + rows;
    parent = cmap + cols;
    comp = parent + (rows + cols);
    rend = comp + (rows + cols);
    cend = rend + (rows + cols);
    done = (unsigned char *)(cend + (rows + cols));

    p.cost = cost;
    p.stride = cols;
    if (isinf(cost_limit) && cost_limit > 0) {
        double lo = INFINITY, hi = -INFINITY;
        int k = rows < cols ? rows : cols;
        for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) {
            lo = fmin(lo, cost[i]);
            hi = fmax(hi, cost[i]);
        }
        /* Dummies priced so that every extra real pair pays: (k + 1) times
         * the cost range is more than any k-pair total can differ by. */
        p.rows = p.cols = 0;
        for (int i = 0; i < rows; i++)
            rmap[p.rows++] = i;
        for (int j = 0; j < cols; j++)
            cmap[p.cols++] = j;
        p.rmap = rmap;
        p.cmap = cmap;
        p.shift = lo;
        p.limit = INFINITY;
        p.half = 0.5 * ((double)(k + 1) * (hi - lo) + 1.0);
        p.forbid = 0;
        jv_solve(&p, v, d, x, y, pred, freel, done);
        return write_pairs(&p, x, cost, cols, row_to_col, col_to_row);
    }

    /* With a limit, the problem splits into the connected components of
     * the pairs within it (rows and columns joined by such a pair): a pair
     * across components is never taken, and a row or column with no pair
     * stays unassigned in every optimum. Each component is solved alone, so
     * that sparse scenes (many objects, few overlaps) cost about linear
     * time instead of cubic. parent: rows 0..rows-1, columns after. */
    for (int i = 0; i < rows + cols; i++) {
        parent[i] = i;
        comp[i] = 0; /* here: has a pair within the limit */
    }
    for (int i = 0; i < rows; i++) {
        const float *line = cost + (size_t)i * (size_t)cols;
        for (int j = 0; j < cols; j++) {
            int a, b;
            if (!(line[j] <= cost_limit))
                continue;
            comp[i] = comp[rows + j] = 1;
            a = root(parent, i);
            b = root(parent, rows + j);
            if (a != b)
                parent[a < b ? b : a] = a < b ? a : b;
        }
    }
    /* rows, then columns, of each component contiguous in rmap / cmap,
     * components in the order of their root (a counting sort); rend[r] /
     * cend[r] end root r's slices. A component's root is its smallest
     * index, always a row. */
    for (int i = 0; i < rows; i++)
        rend[i] = cend[i] = 0;
    for (int i = 0; i < rows; i++)
        if (comp[i])
            rend[root(parent, i)]++;
    for (int j = 0; j < cols; j++)
        if (comp[rows + j])
            cend[root(parent, rows + j)]++;
    for (int i = 0, ra = 0, ca = 0; i < rows; i++) {
        int rc = rend[i], cc = cend[i];
        rend[i] = ra;
        cend[i] = ca;
        ra += rc;
        ca += cc;
        nr = ra;
    }
    for (int i = 0; i < rows; i++)
        if (comp[i])
            rmap[rend[root(parent, i)]++] = i;
    for (int j = 0; j < cols; j++)
        if (comp[rows + j])
            cmap[cend[root(parent, rows + j)]++] = j;
    p.shift = 0;
    p.limit = cost_limit;
    p.half = 0.5 * (double)cost_limit;
    p.forbid = 2.0 * fabs((double)cost_limit) + 1.0;
    for (int r = 0, r0 = 0, c0 = 0; r < rows && r0 < nr; r++) {
        if (!comp[r] || root(parent, r) != r)
            continue;
        p.rmap = rmap + r0;
        p.cmap = cmap + c0;
        p.rows = rend[r] - r0;
        p.cols = cend[r] - c0;
        jv_solve(&p, v, d, x, y, pred, freel, done);
        pairs += write_pairs(&p, x, cost, cols, row_to_col, col_to_row);
        r0 = rend[r];
        c0 = cend[r];
    }
    return pairs;
}
