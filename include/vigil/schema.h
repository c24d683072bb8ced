/*
 * The configuration schema: every key of a config section declared once, in
 * a table (like FFmpeg's AVOption tables): its section, name, type, where
 * its value lives, default, range, allowed names and help. The YAML loaders,
 * `vigil probe` and docs/config.md are driven by the tables.
 *
 *   int n;
 *   const vg_option *o = vg_settings_schema(&n);    // the vg_settings keys
 *   const vg_option *t = vg_schema_find(o, n, "runtime", "threads");
 *   char why[256], text[64];
 *   if (vg_option_parse(t, "8", &settings, why, sizeof(why)) < 0)
 *       puts(why);              // "'threads' expects an integer in [1,
 * 256]..." vg_option_format(t, &settings, text, sizeof(text));    // "8"
 *
 * Other modules declare their own tables with the same row type (the
 * rules_options/zone/rule keys in include/vigil/rules.h, the camera keys in
 * include/vigil/cameras.h) and read them with the same functions.
 * Thread-safety: the tables are constant; every function here is
 * thread-safe.
 */
#ifndef VIGIL_SCHEMA_H
#define VIGIL_SCHEMA_H

#include <stddef.h>

#include "vigil/config.h"

/* What a key holds, as the docs name it. */
enum vg_opt_type {
    VG_OPT_BOOL = 0, /* true/false (yes/no, on/off) */
    VG_OPT_INT,      /* whole number in [min, max] */
    VG_OPT_DOUBLE,   /* finite number in [min, max] */
    VG_OPT_STRING,   /* text of 1 to size-1 bytes (0 with VG_OPTF_EMPTY_OK) */
    VG_OPT_ENUM,     /* one of names */
    VG_OPT_LIST      /* a list (of names, or of mappings: see the loader) */
};

/* How the value is stored at offset in its struct. */
enum vg_opt_store {
    VG_STORE_NONE = 0, /* read by the module's own code (lists of mappings) */
    VG_STORE_INT,      /* int (bool, int, enum index) */
    VG_STORE_FLOAT,    /* float */
    VG_STORE_DOUBLE,   /* double */
    VG_STORE_CHARS,    /* char[size] */
    VG_STORE_NAMES,    /* char[max_items][size], count in int at count_offset */
    VG_STORE_INT64     /* int64_t (int) */
};

#define VG_OPTF_PATH 1     /* a file name, relative to the config's folder */
#define VG_OPTF_SECRET 2   /* printed as "(set)" by vigil probe */
#define VG_OPTF_EMPTY_OK 4 /* a string may be "" */
#define VG_OPTF_MODEL 8    /* default: def_str in the model cache */

typedef struct vg_option {
    const char *section;
    const char *key;
    int type;  /* enum vg_opt_type */
    int store; /* enum vg_opt_store */
    size_t offset;
    size_t size;         /* CHARS: buffer size; NAMES: one name's size */
    size_t count_offset; /* NAMES: the int holding how many */
    int max_items;       /* NAMES: how many at most */
    double min, max;     /* INT, DOUBLE: inclusive range (±HUGE_VAL: open) */
    double def_num;      /* default of a bool, number or enum index */
    const char *def_str; /* default of a string / list ("a,b"); NULL: none */
    const char *def_doc; /* the default as the docs show it; NULL: derived */
    const char *const *names; /* ENUM: names (index = value), NULL-ended;
                                 NAMES: allowed items, NULL: any checked by
                                 item_check */
    int (*parse_enum)(const char *s); /* ENUM: parser with aliases, or NULL */
    int (*item_check)(const char *s); /* NAMES: 1 when s is allowed */
    const char *expect;    /* message for a wrong value ("a time in seconds >=
                              0"); NULL: derived from the type and range */
    const char *item;      /* NAMES: what one item is ("class") */
    const char *item_hint; /* NAMES: "expected cuda or cpu" */
    int flags;             /* VG_OPTF_* */
    const char *help;      /* one line for --config-doc and probe */
} vg_option;

/* Rows of a table over struct T (C11 designated initializers):
 *   VG_OPT_ROW(vg_settings, "runtime", "threads", VG_OPT_INT, VG_STORE_INT,
 *              threads, .min = 1, .max = 256, .def_num = 1, .help = "...")
 * the value in T's member f; VG_OPT_LIST_ROW: a VG_STORE_NAMES list in the
 * array f (its size: max_items) with its count in the int member count;
 * VG_OPT_DOC_ROW: a key the module reads itself (documented only). */
#define VG_OPT_ROW(T, sec, k, ty, st, f, ...)                                  \
    {                                                                          \
        .section = (sec), .key = (k), .type = (ty), .store = (st),             \
        .offset = offsetof(T, f), .size = sizeof(((T *)0)->f), __VA_ARGS__     \
    }
#define VG_OPT_LIST_ROW(T, sec, k, f, count, ...)                              \
    {                                                                          \
        .section = (sec), .key = (k), .type = VG_OPT_LIST,                     \
        .store = VG_STORE_NAMES, .offset = offsetof(T, f),                     \
        .size = sizeof(((T *)0)->f[0]), .count_offset = offsetof(T, count),    \
        .max_items = (int)(sizeof(((T *)0)->f) / sizeof(((T *)0)->f[0])),      \
        __VA_ARGS__                                                            \
    }
#define VG_OPT_DOC_ROW(sec, k, ty, ...)                                        \
    {                                                                          \
        .section = (sec), .key = (k), .type = (ty), .store = VG_STORE_NONE,    \
        __VA_ARGS__                                                            \
    }

/* The vg_settings table: VG_SETTINGS_N_KEYS rows, row i describing the key
 * whose origin is s->origin.key[i]. *n (may be NULL) receives the count. */
const vg_option *vg_settings_schema(int *n);

/* The sections of the vg_settings table, in order, NULL-terminated. */
const char *const *vg_settings_sections(void);

/* The row of section.key in opts (n rows), or NULL. */
const vg_option *vg_schema_find(const vg_option *opts, int n,
                                const char *section, const char *key);

/* Parses the scalar text v (NULL: not a scalar) for o and stores it into
 * base (the struct o's offsets are relative to). Bool, int, double, string
 * and enum rows only (NAMES lists: vg_option_add_item). On failure writes
 * one line such as "'threads' expects an integer in [1, 256], got 'x'" into
 * why, leaves base untouched and returns VG_ECONFIG; VG_EINVAL for a row of
 * another type. */
int vg_option_parse(const vg_option *o, const char *v, void *base, char *why,
                    size_t cap);

/* Appends item v to the NAMES list of o in base; *count is the number of
 * items already read into this list in this load (0: the list is cleared
 * first). Refuses (VG_ECONFIG, message in why) an unknown item, a repeated
 * one, one too many. */
int vg_option_add_item(const vg_option *o, const char *v, void *base,
                       int *count, char *why, size_t cap);

/* Sets every row's default into base (STORE_NONE rows untouched). */
void vg_options_defaults(const vg_option *opts, int n, void *base);

/* The value of o in base as text ("0.35", "true", "[cuda, cpu]", "yolov8";
 * a set secret as "(set)"). Returns the length, or VG_ERANGE when cap is too
 * small (truncated). */
int vg_option_format(const vg_option *o, const void *base, char *buf,
                     size_t cap);

/* The default / the allowed range of o as the docs show them. */
int vg_option_default_text(const vg_option *o, char *buf, size_t cap);
int vg_option_range_text(const vg_option *o, char *buf, size_t cap);
const char *vg_option_type_name(const vg_option *o);

/* The candidate closest to word by edit distance when close enough to be a
 * likely typo (at most 2 edits, and fewer than half of word), else NULL. */
const char *vg_schema_suggest(const char *word, const char *const *cands,
                              int n);

/* Same over the keys of section in opts (section NULL: the sections). */
const char *vg_schema_suggest_key(const vg_option *opts, int n,
                                  const char *section, const char *word);

/* The keys of section in opts as "a, b, c" into buf. */
void vg_schema_key_list(const vg_option *opts, int n, const char *section,
                        char *buf, size_t cap);

/* Appends the Markdown rows of opts ("| section | key | type | default |
 * range | description |") to buf at *len (header first when *len is 0).
 * Returns 0 or VG_ERANGE when cap is too small. */
int vg_schema_markdown(const vg_option *opts, int n, char *buf, size_t cap,
                       size_t *len);

#endif
