/*
 * _rans: an order-0 rANS frame coder for detector counts (the kernel of mrczio-rans).
 *
 * The chunk body this module writes and reads is documented in docs/rans.md. In short:
 *
 *   body   = magic "rANS" | u32 crc32c(body[8:]) | u8 method | u8 itemsize | u8 bits
 *            | u8 nstreams | u32 nvalues | u32 nescapes | u32 nraw | u32 len[nstreams]
 *            | stream[0] | stream[1] | ...
 *   method = 0 stored (one stream: the raw bytes)
 *            1 grouped (itemsize 1 or 2: pixels clamped to 2, 4 or 8-bit fields and
 *              packed into byte symbols; streams: main symbols, escape residuals, raw
 *              values)
 *            2 planes (one coded stream per byte plane; any itemsize)
 *   stream = u8 scale | u8 nstates | 32-byte presence bitmap | u16 freq per present
 *            symbol | u32 state[nstates] | u16 words...     (empty when it codes nothing)
 *
 * Every length, count and frequency table is validated before use; decoding never
 * reads or writes outside the buffers it is given, whatever the input holds.
 * All integers are little-endian; the module refuses to build on big-endian hosts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mrczio-rans supports little-endian hosts only"
#endif

#define SCALE 15u
#define TOTAL (1u << SCALE)      /* frequencies of one stream sum to TOTAL */
#define RANS_L (1u << 16)        /* states live in [RANS_L, 2^32) */
#ifndef NSTATES
#define NSTATES 8                /* interleaved states per stream */
#endif
#define STREAM_HEAD (2 + 32)     /* scale, nstates, presence bitmap */
#define BODY_FIXED 24            /* body header before the stream lengths */
#define MAX_STREAMS 16
#define SAMPLE_VALUES 65536

#define METHOD_STORED 0
#define METHOD_GROUPED 1
#define METHOD_PLANES 2

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static PyObject *RansError;

/* ------------------------------------------------------------------------------------ */
/* little-endian helpers                                                                 */

static inline uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t get_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* ------------------------------------------------------------------------------------ */
/* CRC-32C (Castagnoli): SSE4.2 instruction when the CPU has it, else a table            */

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint32_t crc32c_table(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
            crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
            crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW_CRC 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint8_t *p, size_t n) {
    uint64_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
static int hw_crc_available(void) { return __builtin_cpu_supports("sse4.2"); }
#else
#define HAVE_HW_CRC 0
static uint32_t crc32c_hw(const uint8_t *p, size_t n) { return crc32c_table(p, n); }
static int hw_crc_available(void) { return 0; }
#endif

static int use_hw_crc;

static uint32_t crc32c(const uint8_t *p, size_t n) {
    return use_hw_crc ? crc32c_hw(p, n) : crc32c_table(p, n);
}

/* ------------------------------------------------------------------------------------ */
/* frequency tables                                                                      */

static void histogram(const uint8_t *s, size_t n, uint64_t counts[256]) {
    uint32_t h[4][256];
    memset(h, 0, sizeof h);
    memset(counts, 0, 256 * sizeof(uint64_t));
    size_t i = 0;
    while (i < n) {
        /* flush every 2^30 symbols so no uint32 bin overflows */
        size_t stop = n - i > ((size_t)1 << 30) ? i + ((size_t)1 << 30) : n;
        for (; i + 4 <= stop; i += 4) {
            h[0][s[i]]++;
            h[1][s[i + 1]]++;
            h[2][s[i + 2]]++;
            h[3][s[i + 3]]++;
        }
        for (; i < stop; i++) h[0][s[i]]++;
        for (int k = 0; k < 256; k++) {
            counts[k] += (uint64_t)h[0][k] + h[1][k] + h[2][k] + h[3][k];
            h[0][k] = h[1][k] = h[2][k] = h[3][k] = 0;
        }
    }
}

/* Quantize counts to frequencies summing to TOTAL, every present symbol >= 1. Rounds to
 * nearest, then moves single units where they cost least (greedy on c/f). */
static void normalize(const uint64_t counts[256], uint32_t freq[256]) {
    uint64_t total = 0;
    int present = 0, only = 0;
    for (int s = 0; s < 256; s++) {
        total += counts[s];
        if (counts[s]) { present++; only = s; }
    }
    memset(freq, 0, 256 * sizeof(uint32_t));
    if (present == 1) { freq[only] = TOTAL; return; }
    int64_t sum = 0;
    for (int s = 0; s < 256; s++) {
        if (!counts[s]) continue;
        double exact = (double)counts[s] * TOTAL / (double)total;
        uint32_t f = (uint32_t)(exact + 0.5);
        freq[s] = f < 1 ? 1 : f;
        sum += freq[s];
    }
    while (sum != TOTAL) {
        int best = -1;
        double best_key = 0;
        for (int s = 0; s < 256; s++) {
            if (!counts[s]) continue;
            if (sum < TOTAL) {  /* add a unit where it gains most: max c/(f+0.5) */
                double key = (double)counts[s] / (freq[s] + 0.5);
                if (best < 0 || key > best_key) { best = s; best_key = key; }
            } else if (freq[s] > 1) {  /* remove where it loses least: min c/(f-0.5) */
                double key = (double)counts[s] / (freq[s] - 0.5);
                if (best < 0 || key < best_key) { best = s; best_key = key; }
            }
        }
        if (sum < TOTAL) { freq[best]++; sum++; } else { freq[best]--; sum--; }
    }
}

/* ------------------------------------------------------------------------------------ */
/* one rANS stream: encoding                                                             */

typedef struct {
    uint64_t xmax;  /* renormalise while x >= xmax */
    uint64_t rcp;   /* ceil(2^48 / freq): q = x * rcp >> 48 == x / freq for x < 2^32 */
    uint32_t bias;  /* cum */
    uint32_t cmpl;  /* TOTAL - freq */
} EncSym;

static size_t stream_bound(size_t n) {
    return n ? STREAM_HEAD + 2 * 256 + 4 * NSTATES + 2 * n + 16 : 0;  /* 16: slack */
}

static inline uint32_t enc_put(uint32_t x, const EncSym *e, uint8_t **words) {
    /* branch-free renormalisation: the word is always stored below *words (the buffer
     * keeps slack for it) but kept only when needed */
    uint32_t need = (uint64_t)x >= e->xmax;
    put_u16(*words - 2, (uint16_t)x);
    *words -= 2 * need;
    x >>= 16 * need;
    uint32_t q = (uint32_t)(((unsigned __int128)x * e->rcp) >> 48);
    return x + e->bias + q * e->cmpl;
}

/* Encode n symbols into dst (capacity >= stream_bound(n)); returns the stream length. */
static size_t stream_encode(const uint8_t *syms, size_t n, uint8_t *dst, size_t cap) {
    if (n == 0) return 0;
    uint64_t counts[256];
    uint32_t freq[256];
    histogram(syms, n, counts);
    normalize(counts, freq);
    EncSym enc[256];
    uint8_t *p = dst;
    *p++ = (uint8_t)SCALE;
    *p++ = (uint8_t)NSTATES;
    uint8_t *bitmap = p;
    memset(bitmap, 0, 32);
    p += 32;
    uint32_t cum = 0;
    for (int s = 0; s < 256; s++) {
        if (!freq[s]) continue;
        bitmap[s >> 3] |= (uint8_t)(1u << (s & 7));
        put_u16(p, (uint16_t)freq[s]);  /* TOTAL itself (one symbol) is 0x8000 */
        p += 2;
        enc[s].xmax = (uint64_t)freq[s] << (32 - SCALE);
        enc[s].rcp = ((1ull << 48) + freq[s] - 1) / freq[s];
        enc[s].bias = cum;
        enc[s].cmpl = TOTAL - freq[s];
        cum += freq[s];
    }
    uint8_t *state_at = p;
    p += 4 * NSTATES;
    /* words are written backwards from the end of dst (at most one per symbol), then
     * moved to follow the states */
    uint8_t *end = dst + cap;
    uint8_t *w = end;
    uint32_t x[NSTATES];
    for (int j = 0; j < NSTATES; j++) x[j] = RANS_L;
    size_t i = n;
    while (i % NSTATES) {
        i--;
        x[i % NSTATES] = enc_put(x[i % NSTATES], &enc[syms[i]], &w);
    }
    while (i) {
        i -= NSTATES;
        for (int j = NSTATES - 1; j >= 0; j--) x[j] = enc_put(x[j], &enc[syms[i + j]], &w);
    }
    for (int j = 0; j < NSTATES; j++) put_u32(state_at + 4 * j, x[j]);
    size_t nbytes = (size_t)(end - w);
    memmove(p, w, nbytes);
    return (size_t)(p - dst) + nbytes;
}

/* ------------------------------------------------------------------------------------ */
/* one rANS stream: decoding                                                             */

typedef struct {
    uint8_t sym[TOTAL];      /* slot -> symbol */
    uint32_t freq[256];      /* TOTAL (0x8000) only for a one-symbol stream */
    uint32_t cum[256];
    uint8_t escape[256];     /* grouped coding: 1 when a field of the symbol escapes */
    uint32_t x[NSTATES];
    const uint8_t *words;    /* 16-bit words, unaligned */
    size_t nwords;
} DecStream;

/* Parse and validate a stream header; fills d. Returns NULL or an error message. */
static const char *stream_open(const uint8_t *src, size_t len, DecStream *d) {
    if (len < STREAM_HEAD) return "stream header is truncated";
    if (src[0] != SCALE) return "stream has an unsupported frequency scale";
    if (src[1] != NSTATES) return "stream has an unsupported number of states";
    const uint8_t *bitmap = src + 2;
    size_t pos = STREAM_HEAD;
    uint32_t cum = 0;
    memset(d->freq, 0, sizeof d->freq);
    memset(d->cum, 0, sizeof d->cum);
    memset(d->escape, 0, sizeof d->escape);
    for (int s = 0; s < 256; s++) {
        if (!(bitmap[s >> 3] & (1u << (s & 7)))) continue;
        if (pos + 2 > len) return "frequency table is truncated";
        uint32_t f = get_u16(src + pos);
        pos += 2;
        if (f == 0 || f > TOTAL - cum) return "frequency table is invalid";
        memset(d->sym + cum, s, f);
        d->freq[s] = f;
        d->cum[s] = cum;
        cum += f;
    }
    if (cum != TOTAL) return "frequencies do not sum to the table size";
    if (pos + 4 * NSTATES > len) return "stream states are truncated";
    for (int j = 0; j < NSTATES; j++) {
        d->x[j] = get_u32(src + pos + 4 * j);
        if (d->x[j] < RANS_L) return "stream state is out of range";
    }
    pos += 4 * NSTATES;
    if ((len - pos) % 2) return "stream has an odd number of bytes";
    d->words = src + pos;
    d->nwords = (len - pos) / 2;
    return NULL;
}

/* One decoding step of state X: the symbol S, then the state update and a branch-free
 * renormalisation that reads one word when X drops below RANS_L. The caller
 * guarantees a word is readable at `in`. */
#define DEC_STEP(X, S)                                                           \
    do {                                                                         \
        uint32_t slot_ = (X) & (TOTAL - 1);                                      \
        (S) = d->sym[slot_];                                                     \
        (X) = d->freq[(S)] * ((X) >> SCALE) + slot_ - d->cum[(S)];               \
        uint32_t y_ = ((X) << 16) | get_u16(in);                                 \
        uint32_t need_ = (X) < RANS_L;                                           \
        uint32_t m_ = 0u - need_;                                                \
        (X) = (y_ & m_) | ((X) & ~m_);                                           \
        in += 2 * need_;                                                         \
    } while (0)

/* Escape handling for grouped decoding. */
typedef struct {
    int bits, itemsize;
    uint32_t marker;          /* field value meaning "value >= marker" */
    const uint16_t *values;   /* the full values of escaped pixels, in order */
    size_t count, next;
} Escapes;

static __attribute__((noinline)) int patch_escapes(uint8_t *dst, size_t nfields, uint32_t s, Escapes *esc) {
    uint32_t mask = (1u << esc->bits) - 1;
    for (size_t j = 0; j < nfields; j++) {
        if (((s >> (j * esc->bits)) & mask) != esc->marker) continue;
        if (esc->next >= esc->count) return -1;
        uint16_t v = esc->values[esc->next++];
        if (esc->itemsize == 1) dst[j] = (uint8_t)v;
        else put_u16(dst + 2 * j, v);
    }
    return 0;
}

/* Decode n symbols; symbol i expands to W bytes expand[s] at out + i*W (only `last`
 * bytes for the final symbol). W and ESC (escapes possible) are compile-time constants
 * in each specialisation. */
static inline __attribute__((always_inline)) const char *
decode_expand(DecStream *d, size_t n, uint8_t *out, size_t last, const uint64_t *expand,
              const int W, const int ESC, Escapes *esc) {
    const uint8_t *in = d->words;
    const uint8_t *in_end = d->words + 2 * d->nwords;
    const size_t fields = esc && esc->itemsize == 2 ? W / 2 : W;
    size_t nfull = last == (size_t)W ? n : n - 1;  /* symbols written whole */
    size_t i = 0;
    int bad = 0;
    uint32_t xr[NSTATES];  /* kept in registers: no pointer to it escapes */
    for (int j = 0; j < NSTATES; j++) xr[j] = d->x[j];
    while (i + NSTATES <= nfull && (size_t)(in_end - in) >= 2 * NSTATES) {
#pragma GCC unroll 16
        for (int j = 0; j < NSTATES; j++) {
            uint32_t s;
            DEC_STEP(xr[j], s);
            uint8_t *dst = out + (i + j) * W;
            memcpy(dst, &expand[s], W);
            if (ESC && UNLIKELY(d->escape[s])) bad |= patch_escapes(dst, fields, s, esc);
        }
        i += NSTATES;
    }
    uint32_t x[NSTATES];
    for (int j = 0; j < NSTATES; j++) x[j] = xr[j];
    for (; i < n; i++) {  /* the tail, checking every read */
        uint32_t *xs = &x[i % NSTATES];
        uint32_t slot = *xs & (TOTAL - 1);
        uint32_t s = d->sym[slot];
        *xs = d->freq[s] * (*xs >> SCALE) + slot - d->cum[s];
        if (*xs < RANS_L) {
            if (in_end - in < 2) return "stream ends early";
            *xs = (*xs << 16) | get_u16(in);
            in += 2;
        }
        uint8_t tmp[8];
        memcpy(tmp, &expand[s], 8);
        if (ESC && d->escape[s]) bad |= patch_escapes(tmp, fields, s, esc);
        memcpy(out + i * W, tmp, i < nfull ? (size_t)W : last);
    }
    if (bad) return "more escaped pixels than escape values";
    if (in != in_end) return "stream has bytes left over";
    for (int j = 0; j < NSTATES; j++)
        if (x[j] != RANS_L) return "stream does not end in its initial state";
    return NULL;
}

static const char *decode_dispatch(DecStream *d, size_t n, uint8_t *out, size_t last,
                                   const uint64_t *expand, int W, Escapes *esc) {
    if (esc && esc->count) {
        switch (W) {
        case 1: return decode_expand(d, n, out, last, expand, 1, 1, esc);
        case 2: return decode_expand(d, n, out, last, expand, 2, 1, esc);
        case 4: return decode_expand(d, n, out, last, expand, 4, 1, esc);
        default: return decode_expand(d, n, out, last, expand, 8, 1, esc);
        }
    }
    /* no escape values: a symbol with an escaped field is an error, found afterwards */
    const char *err;
    switch (W) {
    case 1: err = decode_expand(d, n, out, last, expand, 1, 0, esc); break;
    case 2: err = decode_expand(d, n, out, last, expand, 2, 0, esc); break;
    case 4: err = decode_expand(d, n, out, last, expand, 4, 0, esc); break;
    default: err = decode_expand(d, n, out, last, expand, 8, 0, esc); break;
    }
    if (!err && esc)
        for (int s = 0; s < 256; s++)
            if (d->escape[s] && d->freq[s]) return "escaped pixels without escape values";
    return err;
}

static uint64_t identity_expand[256];

/* Decode a plain byte stream of n symbols into out (no escapes). */
static const char *stream_decode_bytes(const uint8_t *src, size_t len, size_t n, uint8_t *out) {
    if (n == 0) return len == 0 ? NULL : "stream should be empty";
    DecStream *d = malloc(sizeof *d);
    if (!d) return "out of memory";
    const char *err = stream_open(src, len, d);
    if (!err) err = decode_dispatch(d, n, out, 1, identity_expand, 1, NULL);
    free(d);
    return err;
}

/* ------------------------------------------------------------------------------------ */
/* body header                                                                           */

typedef struct {
    int method, swapped, itemsize, bits, nstreams;
    uint32_t nvalues, nescapes, nraw;
    const uint8_t *stream[MAX_STREAMS];
    size_t len[MAX_STREAMS];
} Body;

static const char *body_parse(const uint8_t *src, size_t len, Body *b, int check_crc) {
    if (len < BODY_FIXED) return "chunk body is shorter than its header";
    if (memcmp(src, "rANS", 4) != 0) return "chunk body does not start with the rANS magic";
    if (check_crc && get_u32(src + 4) != crc32c(src + 8, len - 8))
        return "checksum mismatch (the chunk is damaged)";
    b->method = src[8] & 0x7F;
    b->swapped = src[8] >> 7;
    b->itemsize = src[9];
    b->bits = src[10];
    b->nstreams = src[11];
    b->nvalues = get_u32(src + 12);
    b->nescapes = get_u32(src + 16);
    b->nraw = get_u32(src + 20);
    if (b->nstreams < 1 || b->nstreams > MAX_STREAMS) return "bad stream count";
    size_t pos = BODY_FIXED + 4 * (size_t)b->nstreams;
    if (pos > len) return "stream lengths are truncated";
    for (int k = 0; k < b->nstreams; k++) {
        size_t l = get_u32(src + BODY_FIXED + 4 * k);
        if (l > len - pos) return "a stream runs past the end of the chunk";
        b->stream[k] = src + pos;
        b->len[k] = l;
        pos += l;
    }
    if (pos != len) return "chunk body has bytes after its last stream";
    switch (b->method) {
    case METHOD_STORED:
        if (b->nstreams != 1 || b->len[0] != (size_t)b->nvalues * b->itemsize)
            return "stored chunk has the wrong length";
        break;
    case METHOD_GROUPED:
        if (b->nstreams != 3 || (b->itemsize != 1 && b->itemsize != 2) ||
            (b->bits != 2 && b->bits != 4 && b->bits != 8))
            return "grouped chunk has a bad layout";
        if (b->nescapes > b->nvalues || b->nraw > b->nescapes) return "escape counts are invalid";
        if (b->len[2] != (size_t)b->nraw * b->itemsize) return "raw value stream has the wrong length";
        break;
    case METHOD_PLANES:
        if (b->nstreams != b->itemsize) return "plane chunk has a bad layout";
        break;
    default:
        return "unknown coding method";
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* grouped coding (itemsize 1 or 2)                                                      */

static inline uint32_t value_at(const uint8_t *src, int itemsize, size_t i) {
    return itemsize == 1 ? src[i] : get_u16(src + 2 * i);
}

static uint32_t escape_marker(int bits, int itemsize) {
    /* with 8-bit fields a byte frame needs no escapes: every value fits */
    return (bits == 8 && itemsize == 1) ? 256u : (1u << bits) - 1;
}

/* Choose the field width (2, 4 or 8) from a sample, or 0 for byte planes. */
static int choose_bits(const uint8_t *src, size_t n, int itemsize) {
    size_t step = n > SAMPLE_VALUES ? n / SAMPLE_VALUES : 1;
    size_t seen = 0, ge3 = 0, ge15 = 0, ge255 = 0;
    for (size_t i = 0; i < n; i += step) {
        uint32_t v = value_at(src, itemsize, i);
        seen++;
        ge3 += v >= 3;
        ge15 += v >= 15;
        ge255 += v >= 255;
    }
    if (!seen) return 8;
    /* cost in symbol decodes per pixel; an escape costs about ESCAPE symbols */
    const double ESCAPE = 12.0;
    double p3 = (double)ge3 / seen, p15 = (double)ge15 / seen, p255 = (double)ge255 / seen;
    if (itemsize == 2 && p255 > 0.02) return 0;
    double c2 = 0.25 + ESCAPE * p3, c4 = 0.5 + ESCAPE * p15;
    double c8 = 1.0 + (itemsize == 2 ? ESCAPE * p255 : 0.0);
    if (c2 <= c4 && c2 <= c8) return 2;
    return c4 <= c8 ? 4 : 8;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} Buf;

static int buf_push(Buf *b, const void *v, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, v, n);
    b->len += n;
    return 0;
}

/* Pack values into symbols of g = 8/bits fields; escaped values go to resid/raw. */
static int pack_groups(const uint8_t *src, size_t n, int itemsize, int bits, uint8_t *syms,
                       Buf *resid, Buf *raw) {
    const int g = 8 / bits;
    const uint32_t marker = escape_marker(bits, itemsize);
    size_t nsym = (n + g - 1) / g;
    enum { BLOCK = 1024 };
    uint8_t clamped[BLOCK * 4];
    for (size_t base = 0; base < nsym; base += BLOCK) {
        size_t count = nsym - base < BLOCK ? nsym - base : BLOCK;
        size_t first = base * g;
        size_t nv = count * g;
        if (first + nv > n) nv = n - first;
        uint32_t over = 0;
        if (itemsize == 1) {
            const uint8_t *p = src + first;
            for (size_t k = 0; k < nv; k++) {
                uint32_t v = p[k];
                clamped[k] = (uint8_t)(v < marker ? v : marker);
                over |= v >= marker;
            }
        } else {
            for (size_t k = 0; k < nv; k++) {
                uint32_t v = get_u16(src + 2 * (first + k));
                clamped[k] = (uint8_t)(v < marker ? v : marker);
                over |= v >= marker;
            }
        }
        for (size_t k = nv; k < count * (size_t)g; k++) clamped[k] = 0;
        if (bits == 8) {
            memcpy(syms + base, clamped, count);
        } else if (bits == 4) {
            for (size_t k = 0; k < count; k++)
                syms[base + k] = (uint8_t)(clamped[2 * k] | clamped[2 * k + 1] << 4);
        } else {
            for (size_t k = 0; k < count; k++)
                syms[base + k] = (uint8_t)(clamped[4 * k] | clamped[4 * k + 1] << 2 |
                                           clamped[4 * k + 2] << 4 | clamped[4 * k + 3] << 6);
        }
        if (LIKELY(!over)) continue;
        const uint8_t *hit = clamped, *stop = clamped + nv;
        while ((hit = memchr(hit, (int)marker, (size_t)(stop - hit))) != NULL) {
            size_t k = (size_t)(hit++ - clamped);
            uint32_t v = value_at(src, itemsize, first + k);
            uint32_t r = v - marker;
            uint8_t rb = r < 255 ? (uint8_t)r : 255;
            if (buf_push(resid, &rb, 1)) return -1;
            if (rb == 255) {
                uint16_t v16 = (uint16_t)v;
                if (buf_push(raw, &v16, 2)) return -1;
            }
        }
    }
    return 0;
}

static void expansion_table(int bits, int itemsize, uint64_t expand[256], uint32_t *flags) {
    const int g = 8 / bits;
    const uint32_t mask = (1u << bits) - 1, marker = escape_marker(bits, itemsize);
    for (uint32_t s = 0; s < 256; s++) {
        uint64_t e = 0;
        int esc = 0;
        for (int j = 0; j < g; j++) {
            uint64_t f = (s >> (j * bits)) & mask;
            esc |= f == marker;
            e |= f << (j * 8 * itemsize);
        }
        expand[s] = e;
        flags[s] = esc ? 0x80000000u : 0;
    }
}

/* ------------------------------------------------------------------------------------ */
/* encoding a frame                                                                      */

/* Writes the body header for nstreams streams of the given lengths and the CRC. */
static void finish_body(uint8_t *dst, size_t total, int method, int itemsize, int bits,
                        int nstreams, uint32_t nvalues, uint32_t nesc, uint32_t nraw,
                        const size_t *lens) {
    memcpy(dst, "rANS", 4);
    dst[8] = (uint8_t)method;
    dst[9] = (uint8_t)itemsize;
    dst[10] = (uint8_t)bits;
    dst[11] = (uint8_t)nstreams;
    put_u32(dst + 12, nvalues);
    put_u32(dst + 16, nesc);
    put_u32(dst + 20, nraw);
    for (int k = 0; k < nstreams; k++) put_u32(dst + BODY_FIXED + 4 * k, (uint32_t)lens[k]);
    put_u32(dst + 4, crc32c(dst + 8, total - 8));
}

typedef struct {
    uint8_t *data;  /* malloc'ed body */
    size_t len;
    const char *error;
} Encoded;

static Encoded encode_stored(const uint8_t *src, size_t n, int itemsize) {
    Encoded r = {0};
    size_t raw = n * itemsize, head = BODY_FIXED + 4;
    r.data = malloc(head + raw);
    if (!r.data) { r.error = "out of memory"; return r; }
    memcpy(r.data + head, src, raw);
    r.len = head + raw;
    finish_body(r.data, r.len, METHOD_STORED, itemsize, 0, 1, (uint32_t)n, 0, 0, &raw);
    return r;
}

static Encoded encode_grouped(const uint8_t *src, size_t n, int itemsize, int bits) {
    Encoded r = {0};
    const int g = 8 / bits;
    size_t nsym = (n + g - 1) / g;
    Buf resid = {0}, raw = {0};
    /* byte frames with 8-bit fields are their own symbols */
    const int direct = bits == 8 && itemsize == 1;
    uint8_t *syms = direct ? (uint8_t *)src : malloc(nsym ? nsym : 1);
    if (!syms || (!direct && pack_groups(src, n, itemsize, bits, syms, &resid, &raw))) {
        r.error = "out of memory";
        goto done;
    }
    size_t head = BODY_FIXED + 4 * 3;
    size_t cap = head + stream_bound(nsym) + stream_bound(resid.len) + raw.len;
    r.data = malloc(cap);
    if (!r.data) { r.error = "out of memory"; goto done; }
    size_t lens[3];
    uint8_t *p = r.data + head;
    lens[0] = stream_encode(syms, nsym, p, stream_bound(nsym));
    p += lens[0];
    lens[1] = stream_encode(resid.data, resid.len, p, stream_bound(resid.len));
    p += lens[1];
    lens[2] = raw.len;
    if (raw.len) memcpy(p, raw.data, raw.len);
    p += raw.len;
    r.len = (size_t)(p - r.data);
    finish_body(r.data, r.len, METHOD_GROUPED, itemsize, bits, 3, (uint32_t)n,
                (uint32_t)resid.len, (uint32_t)(raw.len / 2), lens);
done:
    if (!direct) free(syms);
    free(resid.data);
    free(raw.data);
    return r;
}

static Encoded encode_planes(const uint8_t *src, size_t n, int itemsize) {
    Encoded r = {0};
    size_t head = BODY_FIXED + 4 * (size_t)itemsize;
    size_t cap = head + (size_t)itemsize * stream_bound(n);
    uint8_t *plane = malloc(n ? n : 1);
    r.data = malloc(cap);
    if (!plane || !r.data) {
        free(plane);
        free(r.data);
        r.data = NULL;
        r.error = "out of memory";
        return r;
    }
    size_t lens[MAX_STREAMS];
    uint8_t *p = r.data + head;
    for (int k = 0; k < itemsize; k++) {
        for (size_t i = 0; i < n; i++) plane[i] = src[i * itemsize + k];
        lens[k] = stream_encode(plane, n, p, stream_bound(n));
        p += lens[k];
    }
    free(plane);
    r.len = (size_t)(p - r.data);
    finish_body(r.data, r.len, METHOD_PLANES, itemsize, 0, itemsize, (uint32_t)n, 0, 0, lens);
    return r;
}

/* method: -1 auto, else METHOD_*; bits: 0 auto (grouped only). */
static Encoded encode_frame(const uint8_t *src, size_t nbytes, int itemsize, int method, int bits) {
    Encoded r = {0};
    size_t n = nbytes / itemsize;
    if (method < 0) {
        if (itemsize == 1 || itemsize == 2) {
            bits = choose_bits(src, n, itemsize);
            method = bits ? METHOD_GROUPED : METHOD_PLANES;
        } else {
            method = METHOD_PLANES;
        }
    } else if (method == METHOD_GROUPED && bits == 0) {
        bits = choose_bits(src, n, itemsize);
        if (!bits) bits = 8;
    }
    if (method == METHOD_STORED) return encode_stored(src, n, itemsize);
    r = method == METHOD_GROUPED ? encode_grouped(src, n, itemsize, bits) : encode_planes(src, n, itemsize);
    if (!r.error && r.len > BODY_FIXED + 4 + nbytes) {  /* incompressible: store instead */
        free(r.data);
        return encode_stored(src, n, itemsize);
    }
    return r;
}

/* ------------------------------------------------------------------------------------ */
/* decoding a frame                                                                      */

static const char *decode_grouped(const Body *b, uint8_t *out) {
    const int g = 8 / b->bits, W = g * b->itemsize;
    size_t n = b->nvalues, nsym = (n + g - 1) / g;
    size_t last = (n - (nsym ? nsym - 1 : 0) * g) * b->itemsize;
    const char *err = NULL;
    uint8_t *resid = NULL;
    uint16_t *values = NULL;
    DecStream *d = NULL;
    uint32_t marker = escape_marker(b->bits, b->itemsize);
    if (marker > 255 && b->nescapes) return "escape values in a frame that cannot have them";
    if (b->itemsize == 1 && b->nraw) return "raw values in a byte frame";
    resid = malloc(b->nescapes ? b->nescapes : 1);
    values = malloc(sizeof(uint16_t) * (b->nescapes ? b->nescapes : 1));
    d = malloc(sizeof *d);
    if (!resid || !values || !d) { err = "out of memory"; goto done; }
    err = stream_decode_bytes(b->stream[1], b->len[1], b->nescapes, resid);
    if (err) goto done;
    size_t next_raw = 0;
    for (size_t k = 0; k < b->nescapes; k++) {
        if (resid[k] < 255) {
            uint32_t v = marker + resid[k];
            if (b->itemsize == 1 && v > 255) { err = "escape value out of range"; goto done; }
            values[k] = (uint16_t)v;
        } else {
            if (next_raw >= b->nraw) { err = "more raw values needed than stored"; goto done; }
            values[k] = get_u16(b->stream[2] + 2 * next_raw++);
        }
    }
    if (next_raw != b->nraw) { err = "raw values left over"; goto done; }
    if (nsym == 0) {
        err = b->len[0] ? "stream should be empty" : NULL;
        goto done;
    }
    err = stream_open(b->stream[0], b->len[0], d);
    if (err) goto done;
    uint64_t expand[256];
    uint32_t flags[256];
    expansion_table(b->bits, b->itemsize, expand, flags);
    for (int s = 0; s < 256; s++) d->escape[s] = flags[s] != 0;
    Escapes esc = {b->bits, b->itemsize, marker, values, b->nescapes, 0};
    err = decode_dispatch(d, nsym, out, last, expand, W, &esc);
    if (!err && esc.next != esc.count) err = "escape values left over";
done:
    free(resid);
    free(values);
    free(d);
    return err;
}

static const char *decode_planes(const Body *b, uint8_t *out) {
    size_t n = b->nvalues;
    uint8_t *plane = malloc(n ? n : 1);
    if (!plane) return "out of memory";
    const char *err = NULL;
    for (int k = 0; k < b->itemsize && !err; k++) {
        err = stream_decode_bytes(b->stream[k], b->len[k], n, plane);
        if (!err)
            for (size_t i = 0; i < n; i++) out[i * b->itemsize + k] = plane[i];
    }
    free(plane);
    return err;
}

static const char *decode_frame(const uint8_t *src, size_t len, uint8_t *out, size_t nbytes,
                                int itemsize) {
    Body b;
    const char *err = body_parse(src, len, &b, 1);
    if (err) return err;
    if (b.itemsize != itemsize) return "chunk was written for another pixel size";
    if ((size_t)b.nvalues * b.itemsize != nbytes) return "chunk holds a different number of pixels";
    if (b.swapped && itemsize != 2) return "byte-swap flag on a chunk that is not 16-bit";
    switch (b.method) {
    case METHOD_STORED: memcpy(out, b.stream[0], nbytes); err = NULL; break;
    case METHOD_GROUPED: err = decode_grouped(&b, out); break;
    default: err = decode_planes(&b, out); break;
    }
    if (!err && b.swapped)  /* the values were coded in native order: restore the bytes */
        for (size_t i = 0; i + 1 < nbytes; i += 2) {
            uint8_t t = out[i];
            out[i] = out[i + 1];
            out[i + 1] = t;
        }
    return err;
}

/* ------------------------------------------------------------------------------------ */
/* Python bindings                                                                       */

static PyObject *py_encode(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"data", "itemsize", "method", "bits", "swapped", NULL};
    Py_buffer view;
    int itemsize, method = -1, bits = 0, swapped = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*i|iip", names, &view, &itemsize, &method, &bits, &swapped))
        return NULL;
    const char *problem = NULL;
    if (itemsize < 1 || itemsize > MAX_STREAMS) problem = "itemsize must be 1..16";
    else if (view.len % itemsize) problem = "buffer length is not a multiple of itemsize";
    else if ((uint64_t)view.len >= (1ull << 32)) problem = "a frame must be smaller than 4 GiB";
    else if (method < -1 || method > METHOD_PLANES) problem = "unknown method";
    else if (method == METHOD_GROUPED && itemsize > 2) problem = "grouped coding needs itemsize 1 or 2";
    else if (swapped && itemsize != 2) problem = "only 16-bit values are byte-swapped";
    else if (method == METHOD_GROUPED && bits != 0 && bits != 2 && bits != 4 && bits != 8)
        problem = "bits must be 2, 4 or 8";
    if (problem) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    Encoded r;
    Py_BEGIN_ALLOW_THREADS
    r = encode_frame(view.buf, (size_t)view.len, itemsize, method, bits);
    if (!r.error && swapped) {  /* flag it: decoding must swap the bytes back */
        r.data[8] |= 0x80;
        put_u32(r.data + 4, crc32c(r.data + 8, r.len - 8));
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (r.error) {
        free(r.data);
        return PyErr_NoMemory();
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)r.data, (Py_ssize_t)r.len);
    free(r.data);
    return result;
}

static PyObject *py_decode_into(PyObject *self, PyObject *args) {
    Py_buffer src, dst;
    int itemsize;
    if (!PyArg_ParseTuple(args, "y*w*i", &src, &dst, &itemsize)) return NULL;
    const char *err;
    if (!PyBuffer_IsContiguous(&dst, 'C')) err = "output buffer is not contiguous";
    else if (itemsize < 1 || itemsize > MAX_STREAMS) err = "itemsize must be 1..16";
    else {
        Py_BEGIN_ALLOW_THREADS
        err = decode_frame(src.buf, (size_t)src.len, dst.buf, (size_t)dst.len, itemsize);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    if (err) {
        PyErr_SetString(RansError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_crc32c(PyObject *self, PyObject *args) {
    Py_buffer src;
    int hw = -1;
    if (!PyArg_ParseTuple(args, "y*|i", &src, &hw)) return NULL;
    uint32_t c;
    if (hw == 0 || (hw < 0 && !use_hw_crc)) c = crc32c_table(src.buf, (size_t)src.len);
    else if (!hw_crc_available()) {
        PyBuffer_Release(&src);
        PyErr_SetString(PyExc_ValueError, "this CPU has no CRC32C instruction");
        return NULL;
    } else c = crc32c_hw(src.buf, (size_t)src.len);
    PyBuffer_Release(&src);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(data, itemsize, method=-1, bits=0) -> bytes: one chunk body."},
    {"decode_into", py_decode_into, METH_VARARGS,
     "decode_into(body, out, itemsize): decode a chunk body into the writable buffer out."},
    {"crc32c", py_crc32c, METH_VARARGS, "crc32c(data, hw=-1) -> int (hw: 1 instruction, 0 table)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rans", "Order-0 rANS frame coder.", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rans(void) {
    crc_init();
    use_hw_crc = HAVE_HW_CRC && hw_crc_available();
    for (int s = 0; s < 256; s++) identity_expand[s] = (uint64_t)s;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    RansError = PyErr_NewException("mrczio_rans._rans.RansError", PyExc_ValueError, NULL);
    if (!RansError || PyModule_AddObject(m, "RansError", RansError) < 0) {
        Py_XDECREF(RansError);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(RansError);
    PyModule_AddIntConstant(m, "STORED", METHOD_STORED);
    PyModule_AddIntConstant(m, "GROUPED", METHOD_GROUPED);
    PyModule_AddIntConstant(m, "PLANES", METHOD_PLANES);
    PyModule_AddIntConstant(m, "NSTATES", NSTATES);
    PyModule_AddIntConstant(m, "SCALE_BITS", SCALE);
    return m;
}
