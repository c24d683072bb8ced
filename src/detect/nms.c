/* Greedy non-maximum suppression and box overlap. No allocation. */
#include "vigil/detect.h"

float vg_box_iou(const vg_box *a, const vg_box *b)
{
    float x1 = a->x > b->x ? a->x : b->x;
    float y1 = a->y > b->y ? a->y : b->y;
    float ax2 = a->x + a->w, bx2 = b->x + b->w;
    float ay2 = a->y + a->h, by2 = b->y + b->h;
    float x2 = ax2 < bx2 ? ax2 : bx2;
    float y2 = ay2 < by2 ? ay2 : by2;
    float inter, uni;
    if (x2 <= x1 || y2 <= y1)
        return 0.0f;
    inter = (x2 - x1) * (y2 - y1);
    uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

/* Total order: higher score first, then lower class, then position, so that
 * the result does not depend on the input order beyond exact duplicates. */
static int before(const vg_detection *a, const vg_detection *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->class_id != b->class_id)
        return a->class_id < b->class_id;
    if (a->box.y != b->box.y)
        return a->box.y < b->box.y;
    return a->box.x < b->box.x;
}

static void sift_down(vg_detection *d, int root, int n)
{
    for (;;) {
        int child = 2 * root + 1;
        vg_detection t;
        if (child >= n)
            return;
        /* min-heap on "before" so that the sorted order is best first */
        if (child + 1 < n && before(&d[child + 1], &d[child]))
            child++;
        if (!before(&d[child], &d[root]))
            return;
        t = d[root];
        d[root] = d[child];
        d[child] = t;
        root = child;
    }
}

/* In-place heap sort, best first; no allocation (unlike qsort in glibc). */
static void sort_best_first(vg_detection *d, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(d, i, n);
    for (int end = n - 1; end > 0; end--) {
        vg_detection t = d[0];
        d[0] = d[end];
        d[end] = t;
        sift_down(d, 0, end);
    }
    /* the min-heap leaves the worst first: reverse */
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        vg_detection t = d[i];
        d[i] = d[j];
        d[j] = t;
    }
}

int vg_nms(vg_detection *dets, int n, float iou, int agnostic, int max_keep,
           int *scratch)
{
    int kept = 0;
    (void)scratch; /* reserved: the in-place sort needs no index array */
    if (dets == NULL || n <= 0 || max_keep <= 0)
        return 0;
    sort_best_first(dets, n);
    for (int i = 0; i < n && kept < max_keep; i++) {
        int keep = 1;
        for (int k = 0; k < kept; k++) {
            if (!agnostic && dets[k].class_id != dets[i].class_id)
                continue;
            if (vg_box_iou(&dets[k].box, &dets[i].box) > iou) {
                keep = 0;
                break;
            }
        }
        if (keep)
            dets[kept++] = dets[i]; /* kept <= i: compaction is safe */
    }
    return kept;
}
