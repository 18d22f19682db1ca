/* A measurement prototype, not part of the job: the room's choice step in C, to measure
   what a compiled path would win (docs/benchmarks.md, "2026-12-05, 10:00 UTC").

   step()     is models.learners.newton.NewtonSoftmax.learn_matrix (observe + Newton step);
   features() is models.choice_features.features_row.

   It trusts its caller (patch.py): C-contiguous arrays of the dtypes the tables had at
   8791108 (the tables of features/state),, at most NMAX items and FMAX features; it checks none of it.
   Over the bench's world it agrees with the numpy code to 1e-15, except the momentum
   column, which numpy computes with float32 log1p and this with log1pf (one float32 ulp,
   4.8e-7 at most). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <math.h>
#include <string.h>

#define FMAX 64
#define NMAX 512

/* step(x, chosen, weight, clip, n_taste, weights, precision, learnable_or_None)
   -> None (refused) or (p, new_weights, new_precision) */
static PyObject* step(PyObject* self, PyObject* args) {
    PyArrayObject *xa, *wa, *aa; PyObject* lo; int chosen, t; double weight, clip;
    if (!PyArg_ParseTuple(args, "O!iddiO!O!O", &PyArray_Type, &xa, &chosen, &weight, &clip, &t,
                          &PyArray_Type, &wa, &PyArray_Type, &aa, &lo)) return NULL;
    int n = (int)PyArray_DIM(xa, 0), f = (int)PyArray_DIM(xa, 1);
    if (n > NMAX || f > FMAX) { PyErr_SetString(PyExc_ValueError, "too big"); return NULL; }
    const double* x = (const double*)PyArray_DATA(xa);
    const double* w = (const double*)PyArray_DATA(wa);
    const double* A = (const double*)PyArray_DATA(aa);
    const double* learn = NULL;
    if (lo != Py_None) learn = (const double*)PyArray_DATA((PyArrayObject*)lo);
    if (!isfinite(weight)) Py_RETURN_NONE;
    for (int i = 0; i < n * f; i++) if (!isfinite(x[i])) Py_RETURN_NONE;
    double taste[NMAX], prop[NMAX], mean[FMAX], grad[FMAX];
    double tmax = -INFINITY;
    for (int j = 0; j < n; j++) {
        double s = 0, q = 0; const double* r = x + j * f;
        for (int k = 0; k < t; k++) s += r[k] * w[k];
        for (int k = t; k < f; k++) q += r[k] * w[k];
        taste[j] = s; prop[j] = 1.0 / (1.0 + exp(-q)); if (s > tmax) tmax = s;
    }
    npy_intp dn = n, df[2] = {f, f}, d1 = f;
    PyArrayObject* pa = (PyArrayObject*)PyArray_SimpleNew(1, &dn, NPY_DOUBLE);
    double* p = (double*)PyArray_DATA(pa);
    double tot = 0, tot2 = 0;
    for (int j = 0; j < n; j++) { taste[j] = exp(taste[j] - tmax); tot += taste[j]; }
    for (int j = 0; j < n; j++) { p[j] = taste[j] / tot * prop[j]; tot2 += p[j]; }
    for (int j = 0; j < n; j++) p[j] /= tot2;
    PyArrayObject* na = (PyArrayObject*)PyArray_SimpleNew(2, df, NPY_DOUBLE);
    double* H = (double*)PyArray_DATA(na);
    memcpy(H, A, sizeof(double) * f * f);
    double eff[FMAX];
    for (int k = 0; k < f; k++) mean[k] = 0;
    /* fisher = sum p e e^T - m m^T, accumulated into H (upper + lower) */
    double S[FMAX * FMAX]; memset(S, 0, sizeof(double) * f * f);
    for (int j = 0; j < n; j++) {
        const double* r = x + j * f; double c = 1.0 - prop[j];
        for (int k = 0; k < f; k++) eff[k] = k < t ? r[k] : r[k] * c;
        for (int k = 0; k < f; k++) { double pe = p[j] * eff[k]; mean[k] += pe;
            for (int l = 0; l <= k; l++) S[k * f + l] += pe * eff[l]; }
        if (j == chosen) for (int k = 0; k < f; k++) grad[k] = eff[k];
    }
    for (int k = 0; k < f; k++) grad[k] -= mean[k];
    int finite = 1;
    for (int k = 0; k < f; k++) for (int l = 0; l <= k; l++) {
        double v = (S[k * f + l] - mean[k] * mean[l]) * weight;
        H[k * f + l] += v; if (l != k) H[l * f + k] += v;
    }
    for (int i = 0; i < f * f; i++) if (!isfinite(H[i])) finite = 0;
    if (!finite) { Py_DECREF(pa); Py_DECREF(na); Py_RETURN_NONE; }
    /* Cholesky solve over the free indices */
    int idx[FMAX], m = 0;
    for (int k = 0; k < f; k++) if (!learn || learn[k] > 0) idx[m++] = k;
    double L[FMAX * FMAX], b[FMAX], s[FMAX];
    for (int a = 0; a < m; a++) for (int c = 0; c <= a; c++) {
        double v = H[idx[a] * f + idx[c]];
        for (int k = 0; k < c; k++) v -= L[a * m + k] * L[c * m + k];
        if (a == c) { if (!(v > 0)) { Py_DECREF(pa); Py_DECREF(na); Py_RETURN_NONE; } L[a * m + a] = sqrt(v); }
        else L[a * m + c] = v / L[c * m + c];
    }
    for (int a = 0; a < m; a++) {  /* L b = weight * grad */
        double v = weight * grad[idx[a]];
        for (int k = 0; k < a; k++) v -= L[a * m + k] * b[k];
        b[a] = v / L[a * m + a];
    }
    for (int a = m - 1; a >= 0; a--) {  /* L^T s = b */
        double v = b[a];
        for (int k = a + 1; k < m; k++) v -= L[k * m + a] * s[k];
        s[a] = v / L[a * m + a];
    }
    double full[FMAX]; for (int k = 0; k < f; k++) full[k] = 0;
    double norm = 0; for (int a = 0; a < m; a++) { full[idx[a]] = s[a]; norm += s[a] * s[a]; }
    norm = sqrt(norm);
    if (!isfinite(norm)) { Py_DECREF(pa); Py_DECREF(na); Py_RETURN_NONE; }
    double scale = norm > clip ? clip / norm : 1.0;
    PyArrayObject* wo = (PyArrayObject*)PyArray_SimpleNew(1, &d1, NPY_DOUBLE);
    double* wn = (double*)PyArray_DATA(wo);
    for (int k = 0; k < f; k++) wn[k] = w[k] + full[k] * scale;
    return Py_BuildValue("(NNN)", pa, wo, na);
}


static double half(npy_uint16 h) {
    npy_uint32 sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0) v = ldexp((double)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexp((double)(man | 0x400), (int)exp - 25);
    return sign ? -v : v;
}
#define A1(a, T, i) (*(T*)PyArray_GETPTR1(a, i))
#define A2(a, T, i, j) (*(T*)PyArray_GETPTR2(a, i, j))

/* features(out, row, now, horizon_ms, rows, slots, spot, shown_since, log_price,
            rcc, rce, rsc, rse, tier_lp, tier_w,
            vcc, vce, vseg, ritem, rts, rkind, eitem, ets, tier, has_tier, plp, pw,
            ichosen, iexposed, isc, ise, icat, users, items, uupd, iupd, window) */
static PyObject* features(PyObject* self, PyObject* args) {
    PyArrayObject *out, *rows, *slots, *spot, *ss, *lp, *rcc, *rce, *rsc, *rse, *tlp, *tw,
        *vcc, *vce, *vseg, *ritem, *rts, *rkind, *eitem, *ets, *tier, *htier, *plp, *pw,
        *ich, *iex, *isc, *ise, *icat, *users, *items, *uupd, *iupd, *win;
    long row; long long now, horizon;
    if (!PyArg_ParseTuple(args, "OlLLOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO", &out, &row, &now, &horizon,
        &rows, &slots, &spot, &ss, &lp, &rcc, &rce, &rsc, &rse, &tlp, &tw,
        &vcc, &vce, &vseg, &ritem, &rts, &rkind, &eitem, &ets, &tier, &htier, &plp, &pw,
        &ich, &iex, &isc, &ise, &icat, &users, &items, &uupd, &iupd, &win)) return NULL;
    int n = (int)PyArray_DIM(rows, 0), C = (int)PyArray_DIM(rcc, 0), S = (int)PyArray_DIM(rsc, 0);
    int F = (int)PyArray_DIM(out, 1), d = (int)PyArray_DIM(users, 1);
    double* o = (double*)PyArray_DATA(out);
    memset(o, 0, sizeof(double) * n * F);
    const npy_int64* R = (const npy_int64*)PyArray_DATA(rows);
    const npy_int64* SL = (const npy_int64*)PyArray_DATA(slots);
    double base[64], rate[64], aff[64], segaff[64];
    for (int s = 0; s < C; s++) {
        base[s] = log((A1(rcc, double, s) + 2.0) / (A1(rce, double, s) + 2.0));
        rate[s] = exp(base[s]);
        aff[s] = log((half(A2(vcc, npy_uint16, row, s)) + 1.0 * rate[s])
                     / ((double)A2(vce, float, row, s) + 1.0)) - base[s];
        segaff[s] = 0;
    }
    int member[64], m = 0;
    for (int b = 0; b < S; b++) if (A2(vseg, npy_uint8, row, b)) member[m++] = b;
    for (int k = 0; k < m; k++) for (int s = 0; s < C; s++)
        segaff[s] += log((A2(rsc, double, member[k], s) + 2.0 * rate[s])
                         / (A2(rse, double, member[k], s) + 2.0)) - base[s];
    double now_s = now / 1000.0, hor_s = (horizon > 1 ? horizon : 1) / 1000.0;
    double hd = (double)(horizon > 1 ? horizon : 1);
    int warm = A1(uupd, npy_int32, row) > 0;
    double scale = sqrt((double)(d > 1 ? d : 1));
    int has_window = PyArray_DIM(win, 0) > 0;
    for (int j = 0; j < n; j++) {
        npy_int64 r = R[j]; int s = (int)SL[j]; double* x = o + j * F;
        x[0] = aff[s];
        double appeal = log(((double)A1(ich, float, r) + 2.0) / ((double)A1(iex, float, r) + 2.0));
        if (m) {
            x[1] = segaff[s];
            double e = exp(appeal), t = 0;
            for (int k = 0; k < m; k++)
                t += log(((double)A2(isc, float, r, member[k]) + 2.0 * e)
                         / ((double)A2(ise, float, r, member[k]) + 2.0)) - appeal;
            x[8] = t;
        }
        if (warm && A1(iupd, npy_int32, r) > 0) {
            double dot = 0;
            for (int k = 0; k < d; k++) dot += A2(items, double, r, k) * A2(users, double, row, k);
            x[7] = dot / scale;
        }
        x[9] = 1.0; x[10] = ((double*)PyArray_DATA(spot))[j]; x[11] = appeal; x[12] = base[s];
        if (has_window) {
            float c = A2(win, float, r, 0) + A2(win, float, r, 1) + A2(win, float, r, 2);
            x[13] = (double)log1pf(c);
        }
        x[14] = exp((double)(((npy_int64*)PyArray_DATA(ss))[j] - now) / hd);
        x[15] = ((double*)PyArray_DATA(lp))[j];
    }
    for (int k = 0; k < (int)PyArray_DIM(ritem, 1); k++) {
        npy_int32 key = A2(ritem, npy_int32, row, k); int kind = A2(rkind, npy_int8, row, k);
        if (!key || kind < 1 || kind > 3) continue;
        for (int j = 0; j < n; j++) if (R[j] == key - 1) {
            o[j * F + 1 + kind] += exp(-(now_s - (double)A2(rts, npy_uint32, row, k)) / hor_s); break; }
    }
    npy_int32 e = A1(eitem, npy_int32, row);
    if (e) {
        double fade = exp(-(now_s - (double)A1(ets, npy_uint32, row)) / hor_s);
        npy_int64 cat = A1(icat, npy_int64, e - 1);
        for (int j = 0; j < n; j++) {
            if (R[j] == e - 1) o[j * F + 5] = fade;
            if (SL[j] == cat) o[j * F + 6] = fade;
        }
    }
    double tr = (double)A1(tier, float, row); int ht = A1(htier, float, row) != 0;
    int nb = (int)PyArray_DIM(tw, 0) - 1, bin = nb;
    if (ht && isfinite(tr)) { double q = nearbyint(tr); bin = q < 0 ? 0 : (q > nb - 1 ? nb - 1 : (int)q); }
    int have = 0; double prior = 0;
    int bins[2] = {bin, nb};
    for (int k = 0; k < 2; k++) if (A1(tw, double, bins[k]) > 0) {
        prior = A1(tlp, double, bins[k]) / A1(tw, double, bins[k]); have = 1; break; }
    if (have) {
        double budget = ((double)A1(plp, float, row) + 2.0 * prior) / ((double)A1(pw, float, row) + 2.0);
        for (int j = 0; j < n; j++) { double g = o[j * F + 15] - budget;
            o[j * F + 16] = g > 0 ? g : 0.0; o[j * F + 17] = -g > 0 ? -g : 0.0; }
    }
    Py_RETURN_NONE;
}
static PyMethodDef methods[] = {{"step", step, METH_VARARGS, NULL}, {"features", features, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "fastchoice", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastchoice(void) { import_array(); return PyModule_Create(&mod); }
