/* One pass over a batch of EVTX records as the Rust parser renders them (compact JSON, one string a
 * record) into Arrow column buffers: the System fields, the EventData / UserData JSON text, and for
 * Security-channel records the named EventData fields and the <EventData> XML Sentinel stores.
 *
 * Why C: the same work as DuckDB SQL plus string kernels costs ~22 us a record, 3-4 times the Rust
 * parser itself; this costs ~4 us (a 32 MiB mix of Security and Sysmon chunks, see bench/). It is an
 * accelerator, not the reference: eventlog_evtx.py keeps the SQL path, uses it when this module is
 * missing and for what this code declines, and tests/test_evtx_accelerator.py checks that both paths
 * give the same tables on every corpus log and on generated records.
 *
 * What it declines. The whole batch (convert() returns None): a record that is not an object with an
 * "Event" object, a System value that is an object or array where a scalar belongs, a key of System
 * twice, a TimeCreated that is not "YYYY-MM-DDTHH:MM:SS[.f]Z", nesting deeper than MAX_DEPTH, or
 * columns past 2 GiB. One Security record's fields and XML ('fallback' 1, redone by the SQL path and
 * json_to_xml): EventData that is not an object of scalars (unnamed <Data>, attributes, <Binary>, a
 * key "Data"), a key that needs escaping, control characters (\u \b \f escapes, which json_to_xml writes
 * as text) in a record that json_to_xml would render otherwise than flat (a key twice, a float), and the
 * UserData shapes listed further down. A field name twice keeps its first value, as DuckDB.
 *
 * The input is JSON serde_json wrote, so it is well-formed, but its strings hold whatever the logged
 * program put there: every read is bounded by the string's end, never by its content.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>     /* part of x86-64: 16 bytes a step where strings are scanned */
#endif

#define MAX_DEPTH 64
#define EVENT_NS "http://schemas.microsoft.com/win/2004/08/events/event"

/* ---- memory kept between batches ------------------------------------------------------------------
 * Each batch needs ~25 MB of column buffers. Freed, glibc hands big blocks back to the system and the
 * next batch faults every page in again (a fifth of the run was page faults); kept here, they are
 * reused. Only with the GIL held, so no locking; at most CACHED blocks and CACHED_BYTES in all. */
#define CACHED 512
#define CACHED_BYTES ((size_t)48 << 20)
typedef struct { void *p; size_t cap; } Block;
static Block cache[CACHED];
static int ncache;
static size_t cached_bytes;

static void *cache_get(size_t want, size_t *cap) {
    int best = -1;           /* the smallest block that fits: big blocks stay for big columns */
    for (int i = 0; i < ncache; i++)
        if (cache[i].cap >= want && (best < 0 || cache[i].cap < cache[best].cap)) best = i;
    if (best >= 0) {
        void *p = cache[best].p;
        *cap = cache[best].cap;
        cached_bytes -= cache[best].cap;
        cache[best] = cache[--ncache];
        return p;
    }
    *cap = want;
    return malloc(want ? want : 1);
}
static void cache_put(void *p, size_t cap) {
    if (!p) return;
    if (ncache < CACHED && cached_bytes + cap <= CACHED_BYTES) {
        cache[ncache].p = p; cache[ncache].cap = cap; ncache++; cached_bytes += cap;
    } else free(p);
}
static void *cache_zeroed(size_t want, size_t *cap) {
    void *p = cache_get(want, cap);
    if (p) memset(p, 0, want);
    return p;
}

/* ---- growable buffers and Arrow columns ----------------------------------------------------------- */
typedef struct { char *data; size_t len, cap; int failed; } Buf;

static void buf_grow(Buf *b, size_t more) {
    if (b->failed) return;
    if (!b->data) {
        size_t cap;
        b->data = cache_get(more > 4096 ? more : 4096, &cap);
        if (!b->data) { b->failed = 1; return; }
        b->cap = cap;
        if (b->len + more <= b->cap) return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) { b->failed = 1; return; }
    b->data = d; b->cap = cap;
}
/* inline: most pieces are a few bytes of markup or one short value */
static inline __attribute__((always_inline)) void buf_put(Buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) { buf_grow(b, n); if (b->failed) return; }
    memcpy(b->data + b->len, s, n); b->len += n;
}
static void buf_putc(Buf *b, char c) { buf_put(b, &c, 1); }

/* A string column: int32 offsets, validity bitmap, UTF-8 data (Arrow's layout). */
typedef struct { Buf data; int32_t *offsets; uint8_t *valid; Py_ssize_t n, nvalid; int failed;
                 size_t offsets_cap, valid_cap; } StrCol;
/* An integer column: int64 values and validity. */
typedef struct { int64_t *values; uint8_t *valid; Py_ssize_t n; size_t values_cap, valid_cap; } IntCol;

static int strcol_init(StrCol *c, Py_ssize_t rows) {
    memset(c, 0, sizeof *c);
    /* every offset is written as its row is closed (strcol_end, strcol_nulls_until): only the first here */
    c->offsets = cache_get((size_t)(rows + 1) * sizeof(int32_t), &c->offsets_cap);
    c->valid = cache_zeroed((size_t)rows / 8 + 1, &c->valid_cap);
    if (c->offsets) c->offsets[0] = 0;
    return c->offsets && c->valid;
}
static void strcol_free(StrCol *c) {
    cache_put(c->data.data, c->data.cap); cache_put(c->offsets, c->offsets_cap); cache_put(c->valid, c->valid_cap);
}
/* Close row c->n: valid with the bytes appended since the last close, or null. */
static void strcol_end(StrCol *c, int valid) {
    if (c->data.len > INT32_MAX) c->failed = 1;
    if (valid) { c->valid[c->n / 8] |= (uint8_t)(1u << (c->n % 8)); c->nvalid++; }
    else c->data.len = (size_t)c->offsets[c->n];     /* drop anything written for a null */
    c->n++;
    c->offsets[c->n] = (int32_t)c->data.len;
}
/* Rows up to ``upto`` (exclusive) that were not written are nulls: no bytes, validity bit clear. */
static void strcol_nulls_until(StrCol *c, Py_ssize_t upto) {
    int32_t off = c->offsets[c->n];
    while (c->n < upto) c->offsets[++c->n] = off;
}
static int intcol_init(IntCol *c, Py_ssize_t rows) {
    memset(c, 0, sizeof *c);
    c->values = cache_zeroed((size_t)(rows + 1) * sizeof(int64_t), &c->values_cap);
    c->valid = cache_zeroed((size_t)rows / 8 + 1, &c->valid_cap);
    return c->values && c->valid;
}
static void intcol_free(IntCol *c) { cache_put(c->values, c->values_cap); cache_put(c->valid, c->valid_cap); }
static void intcol_set(IntCol *c, Py_ssize_t row, int has, int64_t v) {
    if (has) { c->values[row] = v; c->valid[row / 8] |= (uint8_t)(1u << (row % 8)); }
}

/* ---- JSON scanning -------------------------------------------------------------------------------- */
typedef struct { const char *p, *end; int bad; } Cur;

static void ws(Cur *c) { while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++; }
/* serde_json writes no whitespace: the first test settles nearly every call (a tenth of the pass was here) */
static inline __attribute__((always_inline)) int peek(Cur *c) {
    if (c->p < c->end && (unsigned char)*c->p > ' ') return (unsigned char)*c->p;
    ws(c);
    return c->p < c->end ? (unsigned char)*c->p : -1;
}
static inline __attribute__((always_inline)) int eat(Cur *c, char ch) {
    if (peek(c) == ch) { c->p++; return 1; }
    c->bad = 1;
    return 0;
}

/* What scanning a string found in it: escapes, and the bytes XML text must escape. */
enum { ESC_ANY = 1, ESC_CONTROL = 2 /* \u, \b or \f */, ESC_XML = 4 /* & < > */ };

/* The first '"' or '\\' in [p, end), or end; *xml |= ESC_XML when one of & < > comes before it.
 * 16 bytes a step (SSE2 is part of x86-64): strings are most of a record, and this is the one pass over
 * their bytes that every value gets. */
static const uint8_t SCAN_STOP[256] = {['"'] = 1, ['\\'] = 1, ['&'] = 2, ['<'] = 2, ['>'] = 2};
static const char *string_stop(const char *p, const char *end, int *xml) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), amp = _mm_set1_epi8('&'),
                  lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        unsigned stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        unsigned special = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, amp), _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt))));
        if (stop) {
            unsigned at = (unsigned)__builtin_ctz(stop);
            if (special & ((1u << at) - 1)) *xml |= ESC_XML;
            return p + at;
        }
        if (special) *xml |= ESC_XML;
    }
#endif
    for (; p < end; p++) {
        uint8_t k = SCAN_STOP[(unsigned char)*p];
        if (k == 1) return p;
        if (k) *xml |= ESC_XML;
    }
    return end;
}

/* The string at c->p (after its opening quote has been checked): [*s, *e) is its raw content, *esc what
 * it holds (ESC_*). */
static int scan_string(Cur *c, const char **s, const char **e, int *esc) {
    if (!eat(c, '"')) return 0;
    *s = c->p; *esc = 0;
    while (c->p < c->end) {
        c->p = string_stop(c->p, c->end, esc);
        if (c->p >= c->end) break;
        if (*c->p == '"') { *e = c->p; c->p++; return 1; }
        /* a backslash: the escape is passed over whole (an escaped quote does not end the string) */
        if (c->p + 1 >= c->end) break;
        char k = c->p[1];
        *esc |= ESC_ANY;
        if (k == 'u' || k == 'b' || k == 'f') *esc |= ESC_CONTROL;
        if (k == 'u') { if (c->p + 6 > c->end) break; c->p += 6; }
        else c->p += 2;
    }
    c->bad = 1;
    return 0;
}

static int hexval(char h) {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}
static long hex4(const char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) { int h = hexval(p[i]); if (h < 0) return -1; v = v * 16 + h; }
    return v;
}
static void put_utf8(Buf *b, unsigned long cp) {
    char u[4];
    if (cp < 0x80) { u[0] = (char)cp; buf_put(b, u, 1); }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); buf_put(b, u, 2); }
    else if (cp < 0x10000) { u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                             u[2] = (char)(0x80 | (cp & 0x3F)); buf_put(b, u, 3); }
    else { u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
           u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); buf_put(b, u, 4); }
}

/* The decoded text of raw JSON string content [s, e); with xml, & < > escaped as XML text, and with
 * XML_AS_TEXT also the characters XML 1.0 forbids written as \uXXXX text, as json_to_xml's _scalar does. */
static const uint8_t SPECIAL[256] = {['\\'] = 1, ['&'] = 2, ['<'] = 2, ['>'] = 2};
enum { PLAIN = 0, XML = 1, XML_AS_TEXT = 2 };

static int xml_forbidden(unsigned long cp) {
    return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF;
}
static void put_code_point(Buf *b, unsigned long cp, int xml) {
    if (xml == XML_AS_TEXT && xml_forbidden(cp)) {
        char u[7];
        snprintf(u, sizeof u, "\\u%04lx", cp);
        buf_put(b, u, 6);
    } else put_utf8(b, cp);
}

/* The first byte in [p, e) that needs work: a backslash, and with xml one of & < >; or e. */
static const char *next_special(const char *p, const char *e, int xml) {
    const uint8_t stop = xml ? 3 : 1;
#if defined(__SSE2__)
    const __m128i backslash = _mm_set1_epi8('\\'), amp = _mm_set1_epi8(xml ? '&' : '\\'),
                  lt = _mm_set1_epi8(xml ? '<' : '\\'), gt = _mm_set1_epi8(xml ? '>' : '\\');
    for (; e - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, amp)),
                                                              _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt))));
        if (m) return p + __builtin_ctz(m);
    }
#endif
    while (p < e && !(SPECIAL[(unsigned char)*p] & stop)) p++;
    return p;
}

static void put_unescaped(Buf *b, const char *s, const char *e, int xml) {
    const char *run = s;
    for (const char *p = next_special(s, e, xml); p < e; ) {
        char ch = *p;
        if (!(SPECIAL[(unsigned char)ch] & (xml ? 3 : 1))) { p = next_special(p, e, xml); continue; }
        const char *rep = NULL;
        if (xml && ch == '&') rep = "&amp;";
        else if (xml && ch == '<') rep = "&lt;";
        else if (xml && ch == '>') rep = "&gt;";
        if (rep) { buf_put(b, run, p - run); buf_put(b, rep, strlen(rep)); run = ++p; continue; }
        if (ch != '\\' || p + 1 >= e) { p++; continue; }
        buf_put(b, run, p - run);
        char k = p[1];
        p += 2;
        switch (k) {
            case 'n': buf_putc(b, '\n'); break;
            case 'r': buf_putc(b, '\r'); break;
            case 't': buf_putc(b, '\t'); break;
            case 'b': put_code_point(b, '\b', xml); break;
            case 'f': put_code_point(b, '\f', xml); break;
            case 'u': {
                long cp = p + 4 <= e ? hex4(p) : -1;
                if (cp < 0) { cp = 0xFFFD; }
                else {
                    p += 4;
                    if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= e && p[0] == '\\' && p[1] == 'u') {
                        long lo = hex4(p + 2);
                        if (lo >= 0xDC00 && lo < 0xE000) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
                        else cp = 0xFFFD;
                    } else if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;   /* a lone surrogate is not UTF-8 */
                }
                put_code_point(b, (unsigned long)cp, xml);
                break;
            }
            default: buf_putc(b, k);   /* \" \\ \/ */
        }
        run = p;
    }
    buf_put(b, run, e - run);
}

/* Skip one value; [*s, *e) is its raw text. */
static void skip_value(Cur *c, int depth, const char **s, const char **e) {
    int ch = peek(c);
    *s = c->p;
    if (depth > MAX_DEPTH) { c->bad = 1; return; }
    if (ch == '"') { const char *a, *b; int esc; scan_string(c, &a, &b, &esc); }
    else if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        if (peek(c) == close) { c->p++; }
        else for (;;) {
            const char *a, *b;
            if (ch == '{') { int esc; if (!scan_string(c, &a, &b, &esc) || !eat(c, ':')) return; }
            skip_value(c, depth + 1, &a, &b);
            if (c->bad) return;
            if (peek(c) == ',') { c->p++; continue; }
            if (!eat(c, close)) return;
            break;
        }
    } else {   /* number, true, false, null */
        static const uint8_t END[256] = {[','] = 1, ['}'] = 1, [']'] = 1, [' '] = 1, ['\n'] = 1};
        while (c->p < c->end && !END[(unsigned char)*c->p]) c->p++;
        if (c->p == *s) c->bad = 1;
    }
    *e = c->p;
}

/* A scalar value: kind and raw text. */
enum { V_NONE, V_NULL, V_STRING, V_OTHER /* number, true, false */, V_NESTED };
typedef struct { int kind, esc; const char *s, *e; } Val;

static void read_value(Cur *c, Val *v, int depth) {
    int ch = peek(c);
    v->esc = 0;
    if (ch == '"') { v->kind = V_STRING; scan_string(c, &v->s, &v->e, &v->esc); return; }
    skip_value(c, depth, &v->s, &v->e);
    if (ch == '{' || ch == '[') v->kind = V_NESTED;
    else if (v->e - v->s == 4 && memcmp(v->s, "null", 4) == 0) v->kind = V_NULL;
    else v->kind = V_OTHER;
}

/* A string value's text: as it stands when nothing in it needs work (the scan told), else decoded. */
static void put_string(Buf *b, const Val *v, int xml) {
    if ((v->esc & ESC_ANY) || (xml != PLAIN && (v->esc & ESC_XML))) put_unescaped(b, v->s, v->e, xml);
    else buf_put(b, v->s, (size_t)(v->e - v->s));
}

static int key_is(const char *s, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - s) == n && memcmp(s, lit, n) == 0;
}

/* Iterate the members of the object at c->p: call with *started = 0 first. Returns 0 at the end;
 * *kesc: what the key's scan found (ESC_*). */
static int next_member_esc(Cur *c, int *started, const char **ks, const char **ke, int *kesc) {
    if (!*started) {
        *started = 1;
        if (!eat(c, '{')) return 0;
        if (peek(c) == '}') { c->p++; return 0; }
    } else {
        if (peek(c) == ',') c->p++;
        else { eat(c, '}'); return 0; }
    }
    if (!scan_string(c, ks, ke, kesc) || !eat(c, ':')) return 0;
    return 1;
}
static int next_member(Cur *c, int *started, const char **ks, const char **ke) {
    int esc;
    return next_member_esc(c, started, ks, ke, &esc);
}

/* The value at path a/b/... inside the object at c->p (consumes the whole object). */
static void find_in(Cur *c, const char **path, int depth, Val *out) {
    const char *ks, *ke, *s, *e;
    int started = 0;
    if (peek(c) != '{') { Val tmp; read_value(c, &tmp, depth); return; }
    while (next_member(c, &started, &ks, &ke)) {
        if (out->kind == V_NONE && key_is(ks, ke, path[0])) {
            if (path[1] == NULL) read_value(c, out, depth + 1);
            else find_in(c, path + 1, depth + 1, out);
        } else skip_value(c, depth + 1, &s, &e);
        if (c->bad) return;
    }
}

/* ---- typed System values -------------------------------------------------------------------------- */
/* DuckDB's try_cast(text AS INTEGER / BIGINT): optional sign and digits, else null. */
static int parse_int(const char *s, const char *e, int64_t lo, int64_t hi, int64_t *out) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    int neg = 0;
    if (s < e && (*s == '+' || *s == '-')) { neg = *s == '-'; s++; }
    if (s == e || e - s > 19) return 0;
    uint64_t v = 0;
    for (; s < e; s++) { if (*s < '0' || *s > '9') return 0; v = v * 10 + (uint64_t)(*s - '0'); }
    if (v > (uint64_t)INT64_MAX) return 0;
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < lo || x > hi) return 0;
    *out = x;
    return 1;
}
static int scalar_int(const Val *v, int64_t lo, int64_t hi, int64_t *out) {
    if ((v->kind != V_STRING && v->kind != V_OTHER) || (v->esc & ESC_ANY)) return 0;
    return parse_int(v->s, v->e, lo, hi, out);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {   /* H. Hinnant's algorithm */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}
/* "YYYY-MM-DDTHH:MM:SS[.fraction][Z]" (what the parser writes) -> microseconds since 1970, UTC. */
static int parse_time(const Val *v, int64_t *out) {
    if (v->kind != V_STRING || (v->esc & ESC_ANY)) return 0;
    const char *s = v->s, *e = v->e;
    if (e - s < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return 0;
    int f[6], pos[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        f[i] = 0;
        for (int j = 0; j < len[i]; j++) {
            char ch = s[pos[i] + j];
            if (ch < '0' || ch > '9') return 0;
            f[i] = f[i] * 10 + (ch - '0');
        }
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > mdays[f[1] - 1] || f[3] > 23 || f[4] > 59 || f[5] > 59) return 0;
    if (f[1] == 2 && f[2] == 29 && !((f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0)) return 0;
    const char *p = s + 19;
    int64_t micros = 0;
    if (p < e && *p == '.') {
        p++;
        int digits = 0;
        for (; p < e && *p >= '0' && *p <= '9'; p++, digits++) if (digits < 6) micros = micros * 10 + (*p - '0');
        if (digits == 0) return 0;
        for (; digits < 6; digits++) micros *= 10;      /* digits past microseconds are cut, as DuckDB does */
    }
    if (p < e && *p == 'Z') p++;
    if (p != e) return 0;
    int64_t days = days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]);
    *out = ((days * 24 + f[3]) * 60 + f[4]) * 60 * 1000000LL + (int64_t)f[5] * 1000000LL + micros;
    return 1;
}

/* ---- the batch ----------------------------------------------------------------------------------- */
enum { S_PROVIDER, S_OPCODE, S_KEYWORDS, S_CHANNEL, S_COMPUTER, S_USERID, S_CORRELATION, S_EVENTDATA, S_USERDATA,
       S_XML, S_RAW, N_STR };
static const char *STR_NAMES[N_STR] = {"Provider", "Opcode", "Keywords", "Channel", "Computer", "SystemUserId",
                                       "Correlation", "EventDataJson", "UserDataJson", "EventDataXml", "RawEventData"};
enum { I_TIME, I_EVENTID, I_LEVEL, I_TASK, I_VERSION, I_RECORDID, I_PID, I_TID, N_INT };
static const char *INT_NAMES[N_INT] = {"TimeGenerated", "EventID", "EventLevel", "Task", "Version", "EventRecordId",
                                       "SystemProcessId", "SystemThreadId"};

typedef struct { const char *name; Py_ssize_t len; int index; } Field;
typedef struct { Field *slots; size_t mask; } FieldTable;

/* Field names differ in length or in their first or last eight bytes: hashing those is enough, and is
 * one multiply instead of one a byte. */
static uint64_t key_hash(const char *s, size_t n) {
    uint64_t head = 0, tail = 0;
    if (n >= 8) { memcpy(&head, s, 8); memcpy(&tail, s + n - 8, 8); }
    else memcpy(&head, s, n);
    uint64_t h = (head ^ (tail * 0x9E3779B97F4A7C15ULL) ^ n) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 29);
}
static int field_lookup(const FieldTable *t, const char *s, const char *e) {
    size_t n = (size_t)(e - s);
    for (size_t i = key_hash(s, n) & t->mask;; i = (i + 1) & t->mask) {
        const Field *f = &t->slots[i];
        if (!f->name) return -1;
        if ((size_t)f->len == n && memcmp(f->name, s, n) == 0) return f->index;
    }
}

typedef struct {
    Py_ssize_t rows;
    StrCol str[N_STR];
    IntCol ints[N_INT];
    StrCol *fields;
    Py_ssize_t nfields;
    uint8_t *security;       /* a byte a record: 1 for the Security channel */
    Py_ssize_t srows;        /* Security records so far: the row of the Security-only columns */
    uint8_t *flags;          /* a byte a Security record: 1 where its fields and XML are left to the SQL path */
    Py_ssize_t *seen;        /* per field: the last row that set it (a name twice declines the record) */
    struct { Py_ssize_t field, n; size_t len; } *touched;   /* what the current record wrote, to undo it */
    Py_ssize_t ntouched;
} Batch;

/* A System scalar as VARCHAR (DuckDB's from_json): string decoded, number / bool as written, null as null. */
static int put_scalar(StrCol *col, const Val *v) {
    if (v->kind == V_NESTED) return 0;
    if (v->kind == V_STRING) put_string(&col->data, v, PLAIN);
    else if (v->kind == V_OTHER) buf_put(&col->data, v->s, (size_t)(v->e - v->s));
    strcol_end(col, v->kind == V_STRING || v->kind == V_OTHER);
    return 1;
}

/* A value's JSON text as the parser wrote it (a string with its quotes); null when absent or JSON null. */
static void put_json_text(StrCol *col, const Val *v) {
    int has = v->kind != V_NONE && v->kind != V_NULL;
    if (has) {
        if (v->kind == V_STRING) buf_putc(&col->data, '"');
        buf_put(&col->data, v->s, (size_t)(v->e - v->s));
        if (v->kind == V_STRING) buf_putc(&col->data, '"');
    }
    strcol_end(col, has);
}

static int is_security(const Val *ch) {
    static const char *lit = "security";
    if (ch->kind != V_STRING || (ch->esc & ESC_ANY) || ch->e - ch->s != 8) return 0;
    for (int i = 0; i < 8; i++) {
        char x = ch->s[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (x != lit[i]) return 0;
    }
    return 1;
}

/* Field ``ks..ke`` of Security row ``row`` (when it is a column): a name twice (4648's LogonGuid) keeps its
 * first value, as DuckDB; what is written is remembered, to be undone if the record is declined. */
static void put_field(Batch *b, Py_ssize_t row, const FieldTable *ft, const char *ks, const char *ke, const Val *v) {
    int f = field_lookup(ft, ks, ke);
    if (f < 0) return;
    int first = b->seen[f] != row;
    b->seen[f] = row;
    if (!first || v->kind == V_NULL) return;
    StrCol *col = &b->fields[f];
    /* made at its first value: most fields are in no record of a batch */
    if (!col->offsets && !strcol_init(col, b->rows)) col->failed = 1;
    if (col->failed) return;
    b->touched[b->ntouched].field = f;
    b->touched[b->ntouched].n = col->n;
    b->touched[b->ntouched].len = col->data.len;
    b->ntouched++;
    /* rows of this column before this one that were not written yet are nulls */
    strcol_nulls_until(col, row);
    if (v->kind == V_STRING) put_string(&col->data, v, PLAIN);
    else buf_put(&col->data, v->s, (size_t)(v->e - v->s));
    strcol_end(col, 1);
}

/* Security fields and XML of the EventData object at c->p, which it consumes. 0: declined (the SQL path
 * does it; the object is still read to its end). */
static int json_to_xml_renders_as_flat(const char *s, const char *e);

static int security_fields(Batch *b, Py_ssize_t row, const FieldTable *ft, Cur *c) {
    Buf *xml = &b->str[S_XML].data;
    const char *ks, *ke, *object = (peek(c), c->p);
    int started = 0, ok = 1, controls = 0;
    buf_put(xml, "<EventData xmlns=\"" EVENT_NS "\">", sizeof("<EventData xmlns=\"" EVENT_NS "\">") - 1);
    int kesc;
    while (next_member_esc(c, &started, &ks, &ke, &kesc)) {
        Val v;
        read_value(c, &v, 2);
        if (c->bad) return 0;
        if (!ok) continue;
        /* "Data" is how the parser writes an unnamed <Data>; json_to_xml renders those */
        if (v.kind == V_NESTED || key_is(ks, ke, "Binary") || key_is(ks, ke, "Data")) {
            ok = 0;
            continue;
        }
        controls |= v.esc & ESC_CONTROL;
        /* a key the Name attribute would have to escape: an escape (a quote, a control character: serde_json
         * writes every one of them escaped) or & < > */
        if (kesc & (ESC_ANY | ESC_XML)) { ok = 0; continue; }
        buf_put(xml, "<Data Name=\"", 12);
        buf_put(xml, ks, (size_t)(ke - ks));
        buf_put(xml, "\">", 2);
        if (v.kind == V_STRING) put_string(xml, &v, v.esc & ESC_CONTROL ? XML_AS_TEXT : XML);
        else if (v.kind == V_OTHER) buf_put(xml, v.s, (size_t)(v.e - v.s));
        buf_put(xml, "</Data>", 7);
        put_field(b, row, ft, ks, ke, &v);
    }
    if (c->bad) return 0;
    /* The SQL path renders a record with control characters (4661's and 4739's odd values) with json_to_xml:
     * the same markup as here, control characters as \uXXXX text, unless the record has a shape it renders
     * otherwise. */
    if (ok && controls) ok = json_to_xml_renders_as_flat(object, c->p);
    if (ok) buf_put(xml, "</EventData>", 12);
    return ok;
}

/* ---- Security events with <UserData> (1100, 1101, 1102 log cleared, 1104, 1108) --------------------------
 * The SQL path takes their fields from the first element under UserData and renders the XML with
 * json_to_xml. This does the same for the shapes where the result cannot differ, and declines the rest
 * (the record is then redone there): repeated elements ("#text" lists), "#attributes" that are not the
 * first member or hold escapes, a key twice (a Python dict keeps the last value), escaped keys, floats,
 * lists where an element's text belongs, U+FFFE/U+FFFF written as such, an element named EventData.
 * Control characters are written as json_to_xml writes them: \uXXXX text. */

/* true, false or an integer that Python prints as JSON wrote it (no fraction or exponent, no -0, 64 bits) */
static int plain_literal(const Val *v) {
    if (v->kind != V_OTHER) return 0;
    size_t n = (size_t)(v->e - v->s);
    if ((n == 4 && !memcmp(v->s, "true", 4)) || (n == 5 && !memcmp(v->s, "false", 5))) return 1;
    const char *p = v->s + (*v->s == '-');
    if (p == v->e || v->e - p > 18 || (*p == '0' && (v->e - p > 1 || p != v->s))) return 0;
    for (; p < v->e; p++) if (*p < '0' || *p > '9') return 0;
    return 1;
}

/* _scalar() then escape() (quoteattr() for an attribute) of a JSON scalar; 0: declined. */
static int raw_noncharacter(const Val *v) {     /* U+FFFE or U+FFFF as UTF-8 in a string */
    for (const char *p = v->s; p + 2 < v->e; p++)
        if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBF && ((unsigned char)p[2] & 0xFE) == 0xBE)
            return 1;
    return 0;
}

static int put_xml_scalar(Buf *b, const Val *v, int attr) {
    if (v->kind == V_NULL) return 1;
    if (v->kind == V_STRING) {
        if ((attr && (v->esc & ESC_ANY)) || raw_noncharacter(v)) return 0;
        put_string(b, v, XML_AS_TEXT);
        return 1;
    }
    if (!plain_literal(v)) return 0;
    buf_put(b, v->s, (size_t)(v->e - v->s));
    return 1;
}

/* The members of the object at c->p, each checked against the ones before it; 0 at the end or when a key
 * is escaped, seen twice, or one too many. */
typedef struct { const char *s[64], *e[64]; int n; } Keys;
static int next_unique_member(Cur *c, int *started, Keys *seen, const char **ks, const char **ke, int *ok) {
    if (!next_member(c, started, ks, ke)) return 0;
    if (seen->n == 64 || memchr(*ks, '\\', (size_t)(*ke - *ks))) { *ok = 0; return 1; }
    for (int i = 0; i < seen->n; i++)
        if (seen->e[i] - seen->s[i] == *ke - *ks && !memcmp(seen->s[i], *ks, (size_t)(*ke - *ks))) { *ok = 0; return 1; }
    seen->s[seen->n] = *ks; seen->e[seen->n] = *ke; seen->n++;
    return 1;
}

/* json_to_xml(tag, value) of the value at c->p, which it consumes; 0: declined. */
static int render_element(Buf *b, Cur *c, const char *tag, const char *tag_end, int top, int depth) {
    size_t tn = (size_t)(tag_end - tag);
    if (depth > MAX_DEPTH || key_is(tag, tag_end, "EventData")) return 0;
    buf_putc(b, '<'); buf_put(b, tag, tn);
    if (top) buf_put(b, " xmlns=\"" EVENT_NS "\"", sizeof(" xmlns=\"" EVENT_NS "\"") - 1);
    if (peek(c) != '{') {
        Val v;
        read_value(c, &v, depth);
        buf_putc(b, '>');
        if (c->bad || !put_xml_scalar(b, &v, 0)) return 0;
    } else {
        const char *ks, *ke;
        int started = 0, ok = 1, i = 0, open = 1;
        Keys keys = {.n = 0};
        for (; next_unique_member(c, &started, &keys, &ks, &ke, &ok) && ok; i++) {
            if (key_is(ks, ke, "#attributes")) {
                if (i || top || peek(c) != '{') return 0;
                const char *as, *ae;
                int a_started = 0;
                Keys akeys = {.n = 0};
                while (next_unique_member(c, &a_started, &akeys, &as, &ae, &ok) && ok) {
                    Val v;
                    read_value(c, &v, depth + 2);
                    if (c->bad) return 0;
                    buf_putc(b, ' '); buf_put(b, as, (size_t)(ae - as)); buf_put(b, "=\"", 2);
                    if (!put_xml_scalar(b, &v, 1)) return 0;
                    buf_putc(b, '"');
                }
                continue;
            }
            if (open) { buf_putc(b, '>'); open = 0; }
            if (key_is(ks, ke, "#text")) {
                Val v;
                read_value(c, &v, depth + 1);
                if (c->bad || !put_xml_scalar(b, &v, 0)) return 0;
            } else if (peek(c) == '[') {           /* elements of one name */
                c->p++;
                if (peek(c) == ']') c->p++;
                else for (;;) {
                    if (peek(c) == '[' || !render_element(b, c, ks, ke, 0, depth + 2)) return 0;
                    if (peek(c) == ',') { c->p++; continue; }
                    if (!eat(c, ']')) return 0;
                    break;
                }
            } else if (!render_element(b, c, ks, ke, 0, depth + 1)) return 0;
            if (c->bad) return 0;
        }
        if (!ok || c->bad) return 0;
        if (open) buf_putc(b, '>');
    }
    buf_put(b, "</", 2); buf_put(b, tag, tn); buf_putc(b, '>');
    return !c->bad;
}

/* Whether json_to_xml("EventData", ...) of the object [s, e) writes <Data Name="key">value</Data> for each
 * member in order, as the flat rendering does: not when a key is there twice (a Python dict keeps one),
 * is "#text" or "#attributes", or a value is a float or a U+FFFE/U+FFFF that _scalar rewrites. */
static int json_to_xml_renders_as_flat(const char *s, const char *e) {
    Cur c = {s, e, 0};
    Keys keys = {.n = 0};
    const char *ks, *ke;
    int started = 0, ok = 1;
    while (next_unique_member(&c, &started, &keys, &ks, &ke, &ok) && ok) {
        Val v;
        read_value(&c, &v, 3);
        if (c.bad || (ke > ks && *ks == '#') || (v.kind == V_OTHER && !plain_literal(&v))) return 0;
        if (v.kind == V_STRING && raw_noncharacter(&v)) return 0;
    }
    return ok && !c.bad;
}

/* Fields and XML of the UserData object [s, e); 0: declined. */
static int userdata_fields(Batch *b, Py_ssize_t row, const FieldTable *ft, const char *s, const char *e) {
    Cur c = {s, e, 0};
    if (!render_element(&b->str[S_XML].data, &c, "UserData", "UserData" + 8, 1, 2) || peek(&c) != -1) return 0;
    /* the fields: the members of the first element, as the SQL path's json_extract(UserData, '$.*')[1] */
    Cur u = {s, e, 0};
    const char *ks, *ke;
    int started = 0;
    if (!next_member(&u, &started, &ks, &ke) || peek(&u) != '{') return !u.bad;
    int inner = 0;
    while (next_member(&u, &inner, &ks, &ke)) {
        Val v;
        read_value(&u, &v, 3);
        if (u.bad) return 0;
        if (field_lookup(ft, ks, ke) < 0) continue;
        if (v.kind == V_NESTED || (v.kind == V_OTHER && !plain_literal(&v))) return 0;   /* as DuckDB writes them */
        put_field(b, row, ft, ks, ke, &v);
    }
    return !u.bad;
}

/* Start the Security row of record ``row``: its row in the Security-only columns. */
static Py_ssize_t security_row(Batch *b, Py_ssize_t row, size_t *xml_start) {
    b->security[row] = 1;
    *xml_start = b->str[S_XML].data.len;
    b->ntouched = 0;
    return b->srows++;
}

/* One record; 0: the batch is declined. */
static int convert_record(Batch *b, Py_ssize_t row, const char *doc, Py_ssize_t n, int64_t header_id,
                          const FieldTable *ft) {
    Cur c = {doc, doc + n, 0};
    const char *ks, *ke, *s, *e;
    Val provider = {V_NONE}, eventid = {V_NONE}, version = {V_NONE}, level = {V_NONE}, task = {V_NONE},
        opcode = {V_NONE}, keywords = {V_NONE}, time = {V_NONE}, recordid = {V_NONE}, correlation = {V_NONE},
        pid = {V_NONE}, tid = {V_NONE}, channel = {V_NONE}, computer = {V_NONE}, userid = {V_NONE},
        eventdata = {V_NONE}, userdata = {V_NONE};
    int have_event = 0, time_created = 0, started = 0, xml_ok = 0, fields_done = 0;
    Py_ssize_t srow = -1;
    size_t xml_start = 0;
    while (next_member(&c, &started, &ks, &ke)) {
        if (!key_is(ks, ke, "Event") || have_event) { skip_value(&c, 1, &s, &e); if (c.bad) return 0; continue; }
        have_event = 1;
        int ev_started = 0;
        if (peek(&c) != '{') return 0;
        while (next_member(&c, &ev_started, &ks, &ke)) {
            if (key_is(ks, ke, "System")) {
                int sys_started = 0;
                if (peek(&c) != '{') return 0;
                while (next_member(&c, &sys_started, &ks, &ke)) {
                    Val *slot = NULL;
                    if (key_is(ks, ke, "Provider")) {
                        static const char *p[] = {"#attributes", "Name", NULL};
                        find_in(&c, p, 3, &provider);
                    } else if (key_is(ks, ke, "EventID")) {
                        if (peek(&c) == '{') { static const char *p[] = {"#text", NULL}; find_in(&c, p, 3, &eventid); }
                        else read_value(&c, &eventid, 3);
                    } else if (key_is(ks, ke, "TimeCreated")) {
                        time_created = peek(&c) == '{';
                        static const char *p[] = {"#attributes", "SystemTime", NULL};
                        find_in(&c, p, 3, &time);
                    } else if (key_is(ks, ke, "Correlation")) {
                        if (peek(&c) == '{') {
                            static const char *p[] = {"#attributes", NULL};
                            find_in(&c, p, 3, &correlation);
                            if (correlation.kind == V_NESTED && *correlation.s != '{') correlation.kind = V_NONE;
                        } else { Val tmp; read_value(&c, &tmp, 3); }
                    } else if (key_is(ks, ke, "Execution")) {
                        const char *p1[] = {"#attributes", NULL};
                        Val attrs = {V_NONE};
                        find_in(&c, p1, 3, &attrs);
                        if (attrs.kind == V_NESTED && *attrs.s == '{') {
                            static const char *pp[] = {"ProcessID", NULL}, *pt[] = {"ThreadID", NULL};
                            Cur a = {attrs.s, attrs.e, 0};
                            find_in(&a, pp, 4, &pid);
                            Cur t = {attrs.s, attrs.e, 0};
                            find_in(&t, pt, 4, &tid);
                            if (a.bad || t.bad) return 0;
                        }
                    } else if (key_is(ks, ke, "Security")) {
                        static const char *p[] = {"#attributes", "UserID", NULL};
                        find_in(&c, p, 3, &userid);
                    } else if (key_is(ks, ke, "Version")) slot = &version;
                    else if (key_is(ks, ke, "Level")) slot = &level;
                    else if (key_is(ks, ke, "Task")) slot = &task;
                    else if (key_is(ks, ke, "Opcode")) slot = &opcode;
                    else if (key_is(ks, ke, "Keywords")) slot = &keywords;
                    else if (key_is(ks, ke, "EventRecordID")) slot = &recordid;
                    else if (key_is(ks, ke, "Channel")) slot = &channel;
                    else if (key_is(ks, ke, "Computer")) slot = &computer;
                    else skip_value(&c, 3, &s, &e);
                    if (slot) {
                        if (slot->kind != V_NONE) return 0;   /* a key twice: the SQL path decides */
                        read_value(&c, slot, 3);
                    }
                    if (c.bad) return 0;
                }
            } else if (key_is(ks, ke, "EventData") && eventdata.kind == V_NONE) {
                if (srow < 0 && peek(&c) == '{' && is_security(&channel)) {
                    /* System came first (it always does): fields and XML in the same pass */
                    srow = security_row(b, row, &xml_start);
                    eventdata.s = c.p;
                    xml_ok = security_fields(b, srow, ft, &c);
                    eventdata.e = c.p;
                    eventdata.kind = V_NESTED;
                    fields_done = 1;
                } else read_value(&c, &eventdata, 2);
            }
            else if (key_is(ks, ke, "UserData") && userdata.kind == V_NONE) read_value(&c, &userdata, 2);
            else skip_value(&c, 2, &s, &e);
            if (c.bad) return 0;
        }
    }
    if (c.bad || !have_event || peek(&c) != -1) return 0;
    /* scalars that are objects or arrays: the SQL path renders them */
    const Val *scalars[] = {&provider, &opcode, &keywords, &channel, &computer, &userid, &version, &level, &task,
                            &recordid, &pid, &tid, &eventid, &time};
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) if (scalars[i]->kind == V_NESTED) return 0;

    put_scalar(&b->str[S_PROVIDER], &provider);
    put_scalar(&b->str[S_OPCODE], &opcode);
    put_scalar(&b->str[S_KEYWORDS], &keywords);
    put_scalar(&b->str[S_CHANNEL], &channel);
    put_scalar(&b->str[S_COMPUTER], &computer);
    put_scalar(&b->str[S_USERID], &userid);
    if (correlation.kind == V_NESTED) buf_put(&b->str[S_CORRELATION].data, correlation.s, (size_t)(correlation.e - correlation.s));
    strcol_end(&b->str[S_CORRELATION], correlation.kind == V_NESTED);
    /* RawEventData: the record whole when it has no TimeCreated */
    if (!time_created) buf_put(&b->str[S_RAW].data, doc, (size_t)n);
    strcol_end(&b->str[S_RAW], !time_created);

    int64_t v = 0;
    int has;     /* (C leaves the order of argument evaluation open: parse first, then store) */
    has = parse_time(&time, &v);
    if (!has && time.kind != V_NONE && time.kind != V_NULL) return 0;   /* another time format: the SQL path reads it */
    intcol_set(&b->ints[I_TIME], row, has, v);
    has = scalar_int(&eventid, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_EVENTID], row, has, v);
    has = scalar_int(&level, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_LEVEL], row, has, v);
    has = scalar_int(&task, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_TASK], row, has, v);
    has = scalar_int(&version, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_VERSION], row, has, v);
    has = scalar_int(&recordid, INT64_MIN, INT64_MAX, &v); intcol_set(&b->ints[I_RECORDID], row, 1, has ? v : header_id);
    has = scalar_int(&pid, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_PID], row, has, v);
    has = scalar_int(&tid, INT32_MIN, INT32_MAX, &v); intcol_set(&b->ints[I_TID], row, has, v);

    /* Security records: named fields and XML, in columns that hold the Security records only */
    if (!is_security(&channel)) {
        /* EventData / UserData as JSON text, as written (null when absent or JSON null) */
        put_json_text(&b->str[S_EVENTDATA], &eventdata);
        put_json_text(&b->str[S_USERDATA], &userdata);
        return 1;
    }
    if (srow < 0) srow = security_row(b, row, &xml_start);
    int no_data = (eventdata.kind == V_NONE || eventdata.kind == V_NULL) &&
                  (userdata.kind == V_NONE || userdata.kind == V_NULL);
    if (!fields_done && eventdata.kind == V_NESTED && *eventdata.s == '{') {
        Cur ed = {eventdata.s, eventdata.e, 0};
        xml_ok = security_fields(b, srow, ft, &ed);
    } else if ((eventdata.kind == V_NONE || eventdata.kind == V_NULL) && userdata.kind == V_NESTED && *userdata.s == '{')
        xml_ok = userdata_fields(b, srow, ft, userdata.s, userdata.e);
    if (!xml_ok && !no_data) {
        for (Py_ssize_t i = b->ntouched - 1; i >= 0; i--) {     /* undo what the record wrote */
            StrCol *col = &b->fields[b->touched[i].field];
            for (Py_ssize_t r = b->touched[i].n; r < col->n; r++) {
                if (col->valid[r / 8] & (1u << (r % 8))) col->nvalid--;
                col->valid[r / 8] &= (uint8_t)~(1u << (r % 8));
            }
            col->n = b->touched[i].n;
            col->data.len = b->touched[i].len;
        }
        b->str[S_XML].data.len = xml_start;
        b->flags[srow] = 1;
    }
    strcol_end(&b->str[S_XML], xml_ok);
    /* A Security record's JSON text is only read again when the SQL path redoes it: the others' would be
     * half the bytes of the batch, copied for nothing. */
    Val none = {V_NONE};
    put_json_text(&b->str[S_EVENTDATA], xml_ok ? &none : &eventdata);
    put_json_text(&b->str[S_USERDATA], xml_ok ? &none : &userdata);
    return 1;
}

static PyObject *column_tuple(StrCol *c) {
    return Py_BuildValue("(y#y#y#)", (const char *)c->valid, (Py_ssize_t)(c->n / 8 + 1),
                         (const char *)c->offsets, (Py_ssize_t)((c->n + 1) * (Py_ssize_t)sizeof(int32_t)),
                         c->data.data ? c->data.data : "", (Py_ssize_t)c->data.len);
}

static PyObject *convert(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *docs, *ids, *names;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &docs, &PyList_Type, &ids, &PyTuple_Type, &names)) return NULL;
    Py_ssize_t rows = PyList_GET_SIZE(docs), nf = PyTuple_GET_SIZE(names);
    if (PyList_GET_SIZE(ids) != rows) { PyErr_SetString(PyExc_ValueError, "docs and ids differ in length"); return NULL; }
    Batch b;
    memset(&b, 0, sizeof b);
    b.rows = rows;
    b.nfields = nf;
    PyObject *result = NULL;
    FieldTable ft = {NULL, 0};
    Py_ssize_t *seen = NULL;
    int ok = 1;
    for (int i = 0; i < N_STR; i++) ok &= strcol_init(&b.str[i], rows);
    for (int i = 0; i < N_INT; i++) ok &= intcol_init(&b.ints[i], rows);
    b.fields = calloc((size_t)nf + 1, sizeof(StrCol));
    b.flags = calloc((size_t)rows + 1, 1);
    b.security = calloc((size_t)rows + 1, 1);
    seen = malloc(sizeof(Py_ssize_t) * ((size_t)nf + 1));
    b.seen = seen;
    b.touched = malloc(sizeof(*b.touched) * ((size_t)nf + 1));
    size_t slots = 16;
    while (slots < (size_t)nf * 4) slots *= 2;
    ft.slots = calloc(slots, sizeof(Field));
    ft.mask = slots - 1;
    ok &= b.fields && b.flags && b.security && seen && b.touched && ft.slots;
    for (Py_ssize_t f = 0; ok && f < nf; f++) {
        seen[f] = -1;
        PyObject *name = PyTuple_GET_ITEM(names, f);
        Py_ssize_t len;
        const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (!s) { ok = 0; break; }
        size_t i = key_hash(s, (size_t)len) & ft.mask;
        while (ft.slots[i].name) i = (i + 1) & ft.mask;
        ft.slots[i].name = s; ft.slots[i].len = len; ft.slots[i].index = (int)f;
    }
    if (!ok) { if (!PyErr_Occurred()) PyErr_NoMemory(); goto done; }

    int declined = 0;
    for (Py_ssize_t r = 0; r < rows && !declined; r++) {
        PyObject *doc = PyList_GET_ITEM(docs, r), *id = PyList_GET_ITEM(ids, r);
        Py_ssize_t n;
        const char *s = PyUnicode_Check(doc) ? PyUnicode_AsUTF8AndSize(doc, &n) : NULL;
        long long header = PyLong_Check(id) ? PyLong_AsLongLong(id) : 0;
        if (!s || PyErr_Occurred()) { PyErr_Clear(); declined = 1; break; }
        if (!convert_record(&b, r, s, n, header, &ft)) declined = 1;
    }
    for (int i = 0; i < N_STR; i++) declined |= b.str[i].failed || b.str[i].data.failed;
    for (Py_ssize_t f = 0; f < nf; f++) {
        if (!declined && b.fields[f].offsets) strcol_nulls_until(&b.fields[f], b.srows);
        declined |= b.fields[f].failed || b.fields[f].data.failed;
    }
    if (declined) { result = Py_None; Py_INCREF(result); goto done; }

    result = PyDict_New();
    if (!result) goto done;
    for (int i = 0; i < N_STR; i++) {
        PyObject *t = column_tuple(&b.str[i]);
        if (!t || PyDict_SetItemString(result, STR_NAMES[i], t) < 0) { Py_XDECREF(t); Py_CLEAR(result); goto done; }
        Py_DECREF(t);
    }
    for (int i = 0; i < N_INT; i++) {
        PyObject *t = Py_BuildValue("(y#y#)", (const char *)b.ints[i].valid, (Py_ssize_t)(rows / 8 + 1),
                                    (const char *)b.ints[i].values, (Py_ssize_t)(rows * (Py_ssize_t)sizeof(int64_t)));
        if (!t || PyDict_SetItemString(result, INT_NAMES[i], t) < 0) { Py_XDECREF(t); Py_CLEAR(result); goto done; }
        Py_DECREF(t);
    }
    PyObject *fields = PyList_New(nf);
    if (!fields || PyDict_SetItemString(result, "fields", fields) < 0) { Py_XDECREF(fields); Py_CLEAR(result); goto done; }
    Py_DECREF(fields);
    for (Py_ssize_t f = 0; f < nf; f++) {
        /* most fields are in no record of a batch: None, not a column of nulls to copy */
        PyObject *t = b.fields[f].nvalid ? column_tuple(&b.fields[f]) : (Py_INCREF(Py_None), Py_None);
        if (!t) { Py_CLEAR(result); goto done; }
        PyList_SET_ITEM(fields, f, t);
    }
    PyObject *flags = PyBytes_FromStringAndSize((const char *)b.flags, b.srows);
    if (!flags || PyDict_SetItemString(result, "fallback", flags) < 0) { Py_XDECREF(flags); Py_CLEAR(result); goto done; }
    Py_DECREF(flags);
    PyObject *security = PyBytes_FromStringAndSize((const char *)b.security, rows);
    if (!security || PyDict_SetItemString(result, "security", security) < 0) {
        Py_XDECREF(security); Py_CLEAR(result); goto done;
    }
    Py_DECREF(security);

done:
    for (int i = 0; i < N_STR; i++) strcol_free(&b.str[i]);
    for (int i = 0; i < N_INT; i++) intcol_free(&b.ints[i]);
    if (b.fields) for (Py_ssize_t f = 0; f < nf; f++) strcol_free(&b.fields[f]);
    free(b.fields); free(b.flags); free(b.security); free(seen); free(b.touched); free(ft.slots);
    return result;
}

static PyMethodDef methods[] = {
    {"convert", convert, METH_VARARGS,
     "convert(docs: list[str], header_ids: list[int], field_names: tuple[str, ...]) -> dict | None\n\n"
     "Arrow buffers (validity, offsets, data) of the System columns and EventData/UserData JSON, a row a\n"
     "record; 'security': a byte a record, 1 for the Security channel; the EventData XML ('EventDataXml'),\n"
     "the named fields ('fields') and 'fallback' (1 where the SQL path must redo the fields and XML) hold\n"
     "a row a Security record. None when the batch is declined."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_evtxfast", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__evtxfast(void) { return PyModule_Create(&module); }
