/* Constant-velocity Kalman filter over (x, y, a, h) for the tracker. */
#include <math.h>
#include <string.h>

#include "track/track_internal.h"

/* Standard deviations relative to the box height: position 1/20 of the
 * height, velocity 1/160 of the height per frame. The aspect ratio has fixed
 * small deviations: it changes slowly and is unitless. */
#define STD_POS (1.0 / 20.0)
#define STD_VEL (1.0 / 160.0)

void vgi_kalman_init(vgi_kalman *k, const double z[4])
{
    double h = z[3], std[8];

    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 4; i++)
        k->mean[i] = z[i];
    std[0] = std[1] = std[3] = 2 * STD_POS * h;
    std[2] = 1e-2;
    std[4] = std[5] = std[7] = 10 * STD_VEL * h;
    std[6] = 1e-5;
    for (int i = 0; i < 8; i++)
        k->cov[i * 8 + i] = std[i] * std[i];
}

void vgi_kalman_predict(vgi_kalman *k)
{
    double h = k->mean[3], q[8], fp[64];

    q[0] = q[1] = q[3] = STD_POS * h;
    q[2] = 1e-2;
    q[4] = q[5] = q[7] = STD_VEL * h;
    q[6] = 1e-5;
    /* mean = F mean with F = [I I; 0 I] */
    for (int i = 0; i < 4; i++)
        k->mean[i] += k->mean[i + 4];
    /* F P: rows 0..3 add rows 4..7 */
    memcpy(fp, k->cov, sizeof(fp));
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 8; c++)
            fp[i * 8 + c] += k->cov[(i + 4) * 8 + c];
    /* (F P) F^T: columns 0..3 add columns 4..7 */
    for (int r = 0; r < 8; r++) {
        for (int c = 0; c < 8; c++) {
            double v = fp[r * 8 + c];
            if (c < 4)
                v += fp[r * 8 + c + 4];
            k->cov[r * 8 + c] = v;
        }
    }
    for (int i = 0; i < 8; i++)
        k->cov[i * 8 + i] += q[i] * q[i];
}

/* Cholesky factor of a symmetric 4x4 matrix into l (lower); -1 when not
 * positive definite. */
static int cholesky4(const double s[16], double l[16])
{
    memset(l, 0, 16 * sizeof(double));
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j <= i; j++) {
            double sum = s[i * 4 + j];
            for (int p = 0; p < j; p++)
                sum -= l[i * 4 + p] * l[j * 4 + p];
            if (i == j) {
                if (!(sum > 0))
                    return -1;
                l[i * 4 + i] = sqrt(sum);
            } else {
                l[i * 4 + j] = sum / l[j * 4 + j];
            }
        }
    }
    return 0;
}

/* Solves (L L^T) x = b in place. */
static void chol_solve4(const double l[16], double b[4])
{
    for (int i = 0; i < 4; i++) {
        for (int p = 0; p < i; p++)
            b[i] -= l[i * 4 + p] * b[p];
        b[i] /= l[i * 4 + i];
    }
    for (int i = 3; i >= 0; i--) {
        for (int p = i + 1; p < 4; p++)
            b[i] -= l[p * 4 + i] * b[p];
        b[i] /= l[i * 4 + i];
    }
}

int vgi_kalman_update(vgi_kalman *k, const double z[4])
{
    double h = k->mean[3], r[4], s[16], l[16], gain[8][4], innov[4];
    double cov[64];

    r[0] = r[1] = r[3] = STD_POS * h;
    r[2] = 1e-1;
    /* S = H P H^T + R: the top-left 4x4 block of P plus R */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            s[i * 4 + j] = k->cov[i * 8 + j] + (i == j ? r[i] * r[i] : 0);
    if (cholesky4(s, l) < 0)
        return -1;
    /* K = P H^T S^-1; row i of K solves S k = (row i of P H^T) as S is
     * symmetric. */
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 4; j++)
            gain[i][j] = k->cov[i * 8 + j];
        chol_solve4(l, gain[i]);
    }
    for (int j = 0; j < 4; j++)
        innov[j] = z[j] - k->mean[j];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            k->mean[i] += gain[i][j] * innov[j];
    /* P -= K S K^T = (P H^T) K^T */
    for (int i = 0; i < 8; i++) {
        for (int c = 0; c < 8; c++) {
            double sum = 0;
            for (int j = 0; j < 4; j++)
                sum += k->cov[i * 8 + j] * gain[c][j];
            cov[i * 8 + c] = k->cov[i * 8 + c] - sum;
        }
    }
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 8; c++)
            k->cov[i * 8 + c] = 0.5 * (cov[i * 8 + c] + cov[c * 8 + i]);
    return 0;
}
