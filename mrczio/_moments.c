/*
 * _moments: exact extremes, sum and sum of squares of 8- and 16-bit integer frames.
 *
 * One pass over the frame with the GIL released, so the writer's helper threads compute
 * their frames' header statistics in parallel. The sums are exact: 8-bit squares are
 * accumulated in 32-bit lanes that are emptied into 64-bit totals long before they can
 * overflow, 16-bit values go straight into 64-bit totals. Signed data is summed as the
 * unsigned value v + 2^(bits-1); the caller (mrczio.stats) undoes the shift exactly with
 * Python integers. Frames of up to 2^32 pixels are summed without overflow.
 *
 * The pure-numpy path in mrczio/stats.py gives identical results and is used when this
 * module is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct {
    uint64_t lo, hi, total, squares;
} moments_t;


#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_VARIANT 1
/* The same loop on 32-byte vectors, compiled for AVX2 and used when the CPU has it. */
__attribute__((target("avx2")))
static Py_ssize_t moments_8_avx2(const uint8_t *data, Py_ssize_t n, uint8_t flip, moments_t *m)
{
    const __m256i zero = _mm256_setzero_si256(), mask = _mm256_set1_epi8((char)flip);
    __m256i vlo = _mm256_set1_epi8((char)0xff), vhi = zero, vtotal = zero;
    uint64_t squares = 0;
    Py_ssize_t i = 0;
    while (i + 32 <= n) {
        Py_ssize_t end = i + 32 * 2048;
        if (end > n) end = n - (n - i) % 32;
        __m256i vsq = zero;
        for (; i < end; i += 32) {
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(data + i)), mask);
            vlo = _mm256_min_epu8(vlo, v);
            vhi = _mm256_max_epu8(vhi, v);
            vtotal = _mm256_add_epi64(vtotal, _mm256_sad_epu8(v, zero));
            __m256i a = _mm256_unpacklo_epi8(v, zero), b = _mm256_unpackhi_epi8(v, zero);
            vsq = _mm256_add_epi32(vsq, _mm256_add_epi32(_mm256_madd_epi16(a, a), _mm256_madd_epi16(b, b)));
        }
        uint32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, vsq);
        for (int k = 0; k < 8; k++) squares += lanes[k];
    }
    uint8_t bytes[32];
    uint64_t words[4];
    uint8_t lo = 0xff, hi = 0;
    _mm256_storeu_si256((__m256i *)bytes, vlo);
    for (int k = 0; k < 32; k++) if (bytes[k] < lo) lo = bytes[k];
    _mm256_storeu_si256((__m256i *)bytes, vhi);
    for (int k = 0; k < 32; k++) if (bytes[k] > hi) hi = bytes[k];
    _mm256_storeu_si256((__m256i *)words, vtotal);
    m->lo = lo; m->hi = hi;
    m->total = words[0] + words[1] + words[2] + words[3];
    m->squares = squares;
    return i;
}
#endif

/* 8-bit values, XORed with `flip` (0x80 turns int8 into v + 128). */
static void moments_8(const uint8_t *data, Py_ssize_t n, uint8_t flip, moments_t *m)
{
    uint8_t lo = 0xff, hi = 0;
    uint64_t total = 0, squares = 0;
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128(), mask = _mm_set1_epi8((char)flip);
    __m128i vlo = _mm_set1_epi8((char)0xff), vhi = zero, vtotal = zero;
    /* 32-bit lanes of squares gain at most 2 * 2 * 255^2 per 16 bytes: empty them every
       4096 vectors (64 KiB), far below 2^32. */
    while (i + 16 <= n) {
        Py_ssize_t end = i + 16 * 4096;
        if (end > n) end = n - (n - i) % 16;
        __m128i vsq = zero;
        for (; i < end; i += 16) {
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(data + i)), mask);
            vlo = _mm_min_epu8(vlo, v);
            vhi = _mm_max_epu8(vhi, v);
            vtotal = _mm_add_epi64(vtotal, _mm_sad_epu8(v, zero));
            __m128i a = _mm_unpacklo_epi8(v, zero), b = _mm_unpackhi_epi8(v, zero);
            vsq = _mm_add_epi32(vsq, _mm_add_epi32(_mm_madd_epi16(a, a), _mm_madd_epi16(b, b)));
        }
        uint32_t lanes[4];
        _mm_storeu_si128((__m128i *)lanes, vsq);
        squares += (uint64_t)lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
    uint8_t bytes[16];
    uint64_t words[2];
    _mm_storeu_si128((__m128i *)bytes, vlo);
    for (int k = 0; k < 16; k++) if (bytes[k] < lo) lo = bytes[k];
    _mm_storeu_si128((__m128i *)bytes, vhi);
    for (int k = 0; k < 16; k++) if (bytes[k] > hi) hi = bytes[k];
    _mm_storeu_si128((__m128i *)words, vtotal);
    total += words[0] + words[1];
#endif
    for (; i < n; i++) {
        uint8_t v = data[i] ^ flip;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        total += v;
        squares += (uint32_t)v * v;
    }
    m->lo = lo; m->hi = hi; m->total = total; m->squares = squares;
}

/* 16-bit values (read without alignment assumptions), XORed with `flip`. */
static void moments_16(const uint8_t *data, Py_ssize_t n, uint16_t flip, moments_t *m)
{
    uint16_t lo = 0xffff, hi = 0;
    uint64_t total = 0, squares = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, data + 2 * i, 2);
        v ^= flip;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        total += v;
        squares += (uint64_t)v * v;
    }
    m->lo = lo; m->hi = hi; m->total = total; m->squares = squares;
}


static void merge(moments_t *into, const moments_t *other)
{
    if (other->lo < into->lo) into->lo = other->lo;
    if (other->hi > into->hi) into->hi = other->hi;
    into->total += other->total;
    into->squares += other->squares;
}

/* 8-bit frames: the AVX2 loop for the bulk when the CPU has it, then the portable one. */
static void moments_8_dispatch(const uint8_t *data, Py_ssize_t n, uint8_t flip, moments_t *m)
{
#if defined(HAVE_AVX2_VARIANT)
    if (__builtin_cpu_supports("avx2")) {
        Py_ssize_t done = moments_8_avx2(data, n, flip, m);
        if (done < n) {
            moments_t rest;
            moments_8(data + done, n - done, flip, &rest);
            merge(m, &rest);
        }
        return;
    }
#endif
    moments_8(data, n, flip, m);
}

PyDoc_STRVAR(integer_moments_doc,
"integer_moments(buffer, itemsize, signed) -> (lo, hi, total, squares)\n\n"
"Extremes, sum and sum of squares of the shifted values u = v + 2**(8*itemsize-1)\n"
"(signed) or u = v (unsigned) of a contiguous buffer of 8- or 16-bit integers in\n"
"native byte order. Empty buffers are refused.");

static PyObject *integer_moments(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int itemsize, is_signed;
    if (!PyArg_ParseTuple(args, "y*ip", &view, &itemsize, &is_signed)) return NULL;
    if ((itemsize != 1 && itemsize != 2) || view.len % itemsize != 0 || view.len == 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "integer_moments needs a non-empty buffer of 8- or 16-bit values");
        return NULL;
    }
    Py_ssize_t n = view.len / itemsize;
    if ((uint64_t)n > ((uint64_t)1 << 32)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_OverflowError, "integer_moments sums at most 2**32 values per call");
        return NULL;
    }
    moments_t m;
    Py_BEGIN_ALLOW_THREADS
    if (itemsize == 1) moments_8_dispatch((const uint8_t *)view.buf, n, is_signed ? 0x80 : 0, &m);
    else moments_16((const uint8_t *)view.buf, n, is_signed ? 0x8000 : 0, &m);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("(KKKK)", (unsigned long long)m.lo, (unsigned long long)m.hi,
                         (unsigned long long)m.total, (unsigned long long)m.squares);
}

static PyMethodDef methods[] = {
    {"integer_moments", integer_moments, METH_VARARGS, integer_moments_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_moments",
    "Exact moments of 8- and 16-bit integer frames (see mrczio.stats).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__moments(void) { return PyModule_Create(&module); }
