/*
 * vg_session: ONNX Runtime C API wrapper. Each session owns its OrtEnv (ONNX
 * Runtime shares one process-wide environment behind it and counts the
 * references), its memory info, and the output buffers of the outputs whose
 * shapes are fully known at load; those are bound to pre-created OrtValues
 * that every run writes into, so steady-state runs take no memory in vigil.
 *
 * Every output must be float32: a model with any other output type is refused
 * at load, and each run checks again the type and element count ONNX Runtime
 * hands back, so no caller ever reads another type's bytes as floats.
 *
 * ONNX Runtime never prints: the environment's logger goes to vg_log with no
 * context (that is, nowhere at the default level; the environment outlives
 * any one context), and each session's own logger, which carries what loading
 * and running the model say, to the session's context at debug level. Its
 * failure messages reach the user through the OrtStatus, folded to one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <onnxruntime_c_api.h>

#include "vigil/session.h"

typedef struct session_output {
    vg_tensor_info info; /* as declared by the model (-1: dynamic) */
    vg_tensor_info last; /* shape after the last run */
    char *name;          /* full name for Run */
    float *buf;          /* vigil-owned buffer when the shape is static */
    size_t count;        /* element count of buf */
    size_t last_count;   /* element count of the output after the last run */
    OrtValue *value;     /* bound value (static) or ORT's last result */
} session_output;

struct vg_session {
    vg_context *ctx;
    const OrtApi *api;
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *mem;
    char *path;
    vg_tensor_info input;          /* resolved by set_input_shape */
    vg_tensor_info input_declared; /* as the model declares it */
    char *input_name;
    size_t input_count; /* elements, 0 while a dimension is unresolved */
    OrtValue *input_value;
    const float *input_ptr; /* data input_value wraps */
    int n_outputs;
    session_output outputs[VG_MAX_OUTPUTS];
    const char *output_names[VG_MAX_OUTPUTS];
    OrtValue *run_values[VG_MAX_OUTPUTS];
    const char *provider;
    char errmsg[512];
};

void vg_session_opts_default(vg_session_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->graph_opt = 3;
    o->mem_arena = 1;
    o->spin = 1;
}

void vg_session_opts_from_settings(const vg_settings *s, vg_session_opts *o)
{
    vg_session_opts_default(o);
    o->intra_threads = s->threads;
    o->graph_opt = s->graph_opt;
    o->mem_arena = s->mem_arena;
    o->spin = s->spin;
    o->n_providers =
        s->n_providers < VG_MAX_PROVIDERS ? s->n_providers : VG_MAX_PROVIDERS;
    for (int i = 0; i < o->n_providers; i++)
        o->providers[i] = s->providers[i];
}

void vg_session_probe_runtime(vg_sysinfo *si)
{
    const OrtApiBase *base = OrtGetApiBase();
    const OrtApi *api;
    char **providers = NULL;
    int n = 0;

    si->ort_version[0] = '\0';
    si->ort_providers[0] = '\0';
    si->ort_has_cuda = 0;
    snprintf(si->ort_version, sizeof(si->ort_version), "%s",
             base->GetVersionString());
    api = base->GetApi(ORT_API_VERSION);
    if (!api)
        return;
    OrtStatus *st = api->GetAvailableProviders(&providers, &n);
    if (st) {
        api->ReleaseStatus(st);
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(si->ort_providers);
        snprintf(si->ort_providers + len, sizeof(si->ort_providers) - len,
                 "%s%s", i ? "," : "", providers[i]);
        if (strcmp(providers[i], "CUDAExecutionProvider") == 0)
            si->ort_has_cuda = 1;
    }
    st = api->ReleaseAvailableProviders(providers, n);
    if (st)
        api->ReleaseStatus(st);
}

const char *vg_tensor_type_name(int elem_type)
{
    switch (elem_type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
        return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
        return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8:
        return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
        return "uint16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16:
        return "int16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
        return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
        return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING:
        return "string";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
        return "bool";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
        return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
        return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32:
        return "uint32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64:
        return "uint64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64:
        return "complex64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128:
        return "complex128";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
        return "bfloat16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED:
        return "undefined";
    default:
        return "an unsupported type";
    }
}

/* Folds a message onto one line in place: control characters (ONNX Runtime's
 * messages carry newlines and tabs) become single spaces, trailing ones go. */
static void one_line(char *msg)
{
    char *w = msg;
    int space = 0;
    for (const char *r = msg; *r != '\0'; r++) {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20 || c == 0x7f) {
            space = w != msg;
            continue;
        }
        if (space && c != ' ')
            *w++ = ' ';
        space = 0;
        *w++ = (char)c;
    }
    while (w > msg && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* The environment's logger: ONNX Runtime shares one environment between all
 * sessions of the process, so it cannot name a context; its lines go to
 * vg_log without one, which keeps debug lines quiet. */
static void ORT_API_CALL env_log(void *param, OrtLoggingLevel severity,
                                 const char *category, const char *logid,
                                 const char *code_location, const char *message)
{
    (void)param;
    (void)severity;
    (void)category;
    (void)logid;
    (void)code_location;
    vg_log(NULL, VG_LOG_DEBUG, "onnxruntime: %s", message);
}

/* A session's own logger: to the session's context at debug level. */
static void ORT_API_CALL session_log(void *param, OrtLoggingLevel severity,
                                     const char *category, const char *logid,
                                     const char *code_location,
                                     const char *message)
{
    const vg_session *s = param;
    char line[768];
    (void)severity;
    (void)category;
    (void)logid;
    (void)code_location;
    if (vg_context_log_level(s->ctx) < VG_LOG_DEBUG)
        return;
    snprintf(line, sizeof(line), "%s", message != NULL ? message : "");
    one_line(line);
    vg_log(s->ctx, VG_LOG_DEBUG, "%s: onnxruntime: %s", s->path, line);
}

/* Copies ORT's message into s->errmsg after a prefix, folded onto one line,
 * releases the status and returns code. */
static int status_fail(vg_session *s, OrtStatus *st, int code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static int status_fail(vg_session *s, OrtStatus *st, int code, const char *fmt,
                       ...)
{
    va_list ap;
    int len;
    va_start(ap, fmt);
    len = vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    if (len < 0)
        len = 0;
    if (st != NULL) {
        if ((size_t)len < sizeof(s->errmsg))
            snprintf(s->errmsg + len, sizeof(s->errmsg) - (size_t)len, " (%s)",
                     s->api->GetErrorMessage(st));
        s->api->ReleaseStatus(st);
    }
    one_line(s->errmsg);
    return code;
}

/* 1 when ONNX Runtime's status says an allocation failed (host or device). */
static int is_oom(const OrtApi *api, OrtStatus *st)
{
    const char *m = api->GetErrorMessage(st);
    return m != NULL &&
           (strstr(m, "allocate") != NULL || strstr(m, "bad_alloc") != NULL ||
            strstr(m, "out of memory") != NULL ||
            strstr(m, "OUT_OF_MEMORY") != NULL);
}

static int ort_graph_level(int level, GraphOptimizationLevel *out)
{
    switch (level) {
    case 0:
        *out = ORT_DISABLE_ALL;
        return 0;
    case 1:
        *out = ORT_ENABLE_BASIC;
        return 0;
    case 2:
        *out = ORT_ENABLE_EXTENDED;
        return 0;
    case 3:
        *out = ORT_ENABLE_ALL;
        return 0;
    default:
        return -1;
    }
}

static int provider_available(const OrtApi *api, const char *name)
{
    char **list = NULL;
    int n = 0, found = 0;
    OrtStatus *st = api->GetAvailableProviders(&list, &n);
    if (st != NULL) {
        api->ReleaseStatus(st);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            found = 1;
    st = api->ReleaseAvailableProviders(list, n);
    if (st != NULL)
        api->ReleaseStatus(st);
    return found;
}

/* Tries to add the CUDA provider; returns 1 when added, 0 when not (logged). */
static int try_cuda(vg_session *s, OrtSessionOptions *so)
{
    const OrtApi *api = s->api;
    OrtCUDAProviderOptionsV2 *cuda = NULL;
    OrtStatus *st;
    if (!provider_available(api, "CUDAExecutionProvider")) {
        vg_log(s->ctx, VG_LOG_INFO,
               "%s: CUDA provider not in this ONNX Runtime build, using CPU",
               s->path);
        return 0;
    }
    st = api->CreateCUDAProviderOptions(&cuda);
    if (st == NULL)
        st = api->SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda);
    api->ReleaseCUDAProviderOptions(cuda);
    if (st != NULL) {
        vg_log(s->ctx, VG_LOG_WARN,
               "%s: CUDA provider unavailable (%s), using CPU", s->path,
               api->GetErrorMessage(st));
        api->ReleaseStatus(st);
        return 0;
    }
    return 1;
}

/* Builds the session options from o; returns 0 or a VG_E* code. */
static int make_options(vg_session *s, const vg_session_opts *o,
                        OrtSessionOptions **out)
{
    const OrtApi *api = s->api;
    OrtSessionOptions *so = NULL;
    OrtStatus *st;
    GraphOptimizationLevel level;
    int rc, on_cuda = 0;
    /* ONNX Runtime's warnings are formatted only when someone reads them */
    OrtLoggingLevel ort_level = vg_context_log_level(s->ctx) >= VG_LOG_DEBUG
                                    ? ORT_LOGGING_LEVEL_WARNING
                                    : ORT_LOGGING_LEVEL_ERROR;

    *out = NULL;
    if (ort_graph_level(o->graph_opt, &level) < 0)
        return status_fail(s, NULL, VG_EINVAL, "%s: graph_opt %d is not 0..3",
                           s->path, o->graph_opt);
    if (o->intra_threads < 0 || o->inter_threads < 0 || o->n_providers < 0 ||
        o->n_providers > VG_MAX_PROVIDERS)
        return status_fail(s, NULL, VG_EINVAL,
                           "%s: negative thread count or bad provider count",
                           s->path);
    st = api->CreateSessionOptions(&so);
    if (st != NULL)
        return status_fail(s, st, VG_ENOMEM, "%s: session options", s->path);
    st = api->SetIntraOpNumThreads(so, o->intra_threads);
    if (st == NULL)
        st = api->SetInterOpNumThreads(so, o->inter_threads);
    if (st == NULL)
        st = api->SetSessionGraphOptimizationLevel(so, level);
    if (st == NULL)
        st = o->mem_arena ? api->EnableCpuMemArena(so)
                          : api->DisableCpuMemArena(so);
    /* ONNX Runtime's memory pattern reserves a second block for the whole
     * pattern on the second run: without it the steady RSS of NanoDet is
     * 15 MiB lower at the same speed, and one warm-up shows the working
     * memory (docs/memory.md). */
    if (st == NULL)
        st = api->DisableMemPattern(so);
    if (st == NULL && o->env_allocator)
        st = api->AddSessionConfigEntry(so, "session.use_env_allocators", "1");
    if (st == NULL && !o->spin)
        st = api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning",
                                        "0");
    if (st == NULL)
        st = api->SetUserLoggingFunction(so, session_log, s);
    if (st == NULL)
        st = api->SetSessionLogSeverityLevel(so, ort_level);
    if (st != NULL) {
        rc = status_fail(s, st, VG_EINVAL, "%s: session options rejected",
                         s->path);
        goto fail;
    }
    for (int i = 0; i < o->n_providers; i++) {
        const char *p = o->providers[i];
        if (p == NULL) {
            rc = status_fail(s, NULL, VG_EINVAL, "%s: provider %d is NULL",
                             s->path, i);
            goto fail;
        }
        if (strcmp(p, "cpu") == 0) {
            break; /* CPU is always last; later entries cannot matter */
        } else if (strcmp(p, "cuda") == 0) {
            if (!on_cuda && try_cuda(s, so))
                on_cuda = 1;
        } else {
            rc =
                status_fail(s, NULL, VG_EINVAL,
                            "%s: unknown execution provider \"%s\" (cuda, cpu)",
                            s->path, p);
            goto fail;
        }
    }
    s->provider = on_cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
    *out = so;
    return 0;
fail:
    api->ReleaseSessionOptions(so);
    return rc;
}

/* Reads the name, element type and shape of input (is_input) or output i. */
static int read_info(vg_session *s, int is_input, size_t i,
                     vg_tensor_info *info, char **name_out)
{
    const OrtApi *api = s->api;
    OrtAllocator *alloc = NULL;
    OrtTypeInfo *ti = NULL;
    const OrtTensorTypeAndShapeInfo *tsi = NULL;
    ONNXTensorElementDataType et;
    enum ONNXType ot;
    size_t nd = 0;
    char *name = NULL;
    OrtStatus *st;
    int rc;

    memset(info, 0, sizeof(*info));
    st = api->GetAllocatorWithDefaultOptions(&alloc);
    if (st == NULL)
        st = is_input ? api->SessionGetInputName(s->session, i, alloc, &name)
                      : api->SessionGetOutputName(s->session, i, alloc, &name);
    if (st != NULL)
        return status_fail(s, st, VG_EMODEL, "%s: cannot read tensor name",
                           s->path);
    snprintf(info->name, sizeof(info->name), "%s", name);
    *name_out = vg_strdup(s->ctx, name);
    st = api->AllocatorFree(alloc, name);
    if (st != NULL)
        api->ReleaseStatus(st);
    if (*name_out == NULL)
        return status_fail(s, NULL, VG_ENOMEM, "%s: out of memory", s->path);

    st = is_input ? api->SessionGetInputTypeInfo(s->session, i, &ti)
                  : api->SessionGetOutputTypeInfo(s->session, i, &ti);
    if (st == NULL)
        st = api->GetOnnxTypeFromTypeInfo(ti, &ot);
    if (st != NULL) {
        rc = status_fail(s, st, VG_EMODEL, "%s: cannot read type of %s",
                         s->path, info->name);
        goto done;
    }
    if (ot != ONNX_TYPE_TENSOR) {
        rc = status_fail(s, NULL, VG_ENOTSUP, "%s: %s is not a tensor", s->path,
                         info->name);
        goto done;
    }
    st = api->CastTypeInfoToTensorInfo(ti, &tsi);
    if (st == NULL)
        st = api->GetTensorElementType(tsi, &et);
    if (st == NULL)
        st = api->GetDimensionsCount(tsi, &nd);
    if (st == NULL && nd > VG_MAX_DIMS) {
        rc = status_fail(s, NULL, VG_ENOTSUP, "%s: %s has %zu dimensions",
                         s->path, info->name, nd);
        goto done;
    }
    if (st == NULL)
        st = api->GetDimensions(tsi, info->dims, nd);
    if (st != NULL) {
        rc = status_fail(s, st, VG_EMODEL, "%s: cannot read shape of %s",
                         s->path, info->name);
        goto done;
    }
    info->ndim = (int)nd;
    info->elem_type = (int)et;
    for (size_t k = 0; k < nd; k++)
        if (info->dims[k] <= 0)
            info->dims[k] = -1;
    rc = 0;
done:
    api->ReleaseTypeInfo(ti);
    return rc;
}

/* Element count of a fully static shape, 0 when a dimension is dynamic. */
static size_t static_count(const vg_tensor_info *t)
{
    size_t n = 1;
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] < 0)
            return 0;
        n *= (size_t)t->dims[k];
    }
    return n;
}

/* Reserves and binds the buffers of the static float outputs. */
static int bind_static_outputs(vg_session *s)
{
    const OrtApi *api = s->api;
    for (int i = 0; i < s->n_outputs; i++) {
        session_output *so = &s->outputs[i];
        OrtStatus *st;
        so->last = so->info;
        so->count = static_count(&so->info);
        so->last_count = so->count;
        if (so->count == 0)
            continue;
        so->buf = vg_calloc(s->ctx, so->count, sizeof(float));
        if (so->buf == NULL)
            return status_fail(s, NULL, VG_ENOMEM,
                               "%s: out of memory for output %s", s->path,
                               so->info.name);
        st = api->CreateTensorWithDataAsOrtValue(
            s->mem, so->buf, so->count * sizeof(float), so->info.dims,
            (size_t)so->info.ndim, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
            &so->value);
        if (st != NULL)
            return status_fail(s, st, VG_ENOMEM, "%s: binding output %s",
                               s->path, so->info.name);
    }
    return 0;
}

static int load(vg_session *s, const vg_session_opts *o)
{
    const OrtApi *api = s->api;
    OrtSessionOptions *so = NULL;
    OrtStatus *st;
    size_t n_in = 0, n_out = 0;
    struct stat sb;
    int rc;

    if (stat(s->path, &sb) != 0)
        return status_fail(s, NULL, errno == ENOENT ? VG_ENOENT : VG_EIO,
                           "%s: %s", s->path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return status_fail(s, NULL, VG_EMODEL, "%s: not a regular file",
                           s->path);
    st = api->CreateEnvWithCustomLogger(env_log, NULL, ORT_LOGGING_LEVEL_ERROR,
                                        "vigil", &s->env);
    if (st != NULL)
        return status_fail(s, st, VG_EINFER, "%s: ONNX Runtime environment",
                           s->path);
    rc = make_options(s, o, &so);
    if (rc < 0)
        return rc;
    st = api->CreateSession(s->env, s->path, so, &s->session);
    api->ReleaseSessionOptions(so);
    if (st != NULL) {
        OrtErrorCode ec = api->GetErrorCode(st);
        if (is_oom(api, st))
            return status_fail(s, st, VG_ENOMEM,
                               "%s: out of memory while loading", s->path);
        if (ec == ORT_INVALID_PROTOBUF || ec == ORT_NO_MODEL)
            return status_fail(s, st, VG_EMODEL, "%s: not an ONNX model",
                               s->path);
        if (ec == ORT_NO_SUCHFILE)
            return status_fail(s, st, VG_ENOENT, "%s: cannot open", s->path);
        return status_fail(s, st, VG_EMODEL, "%s: rejected by ONNX Runtime",
                           s->path);
    }
    st = api->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault,
                                  &s->mem);
    if (st == NULL)
        st = api->SessionGetInputCount(s->session, &n_in);
    if (st == NULL)
        st = api->SessionGetOutputCount(s->session, &n_out);
    if (st != NULL)
        return status_fail(s, st, VG_EMODEL, "%s: cannot inspect the model",
                           s->path);
    if (n_in != 1)
        return status_fail(s, NULL, VG_ENOTSUP,
                           "%s: %zu inputs, only single-input models are "
                           "supported",
                           s->path, n_in);
    if (n_out < 1 || n_out > VG_MAX_OUTPUTS)
        return status_fail(s, NULL, VG_ENOTSUP, "%s: %zu outputs (1..%d)",
                           s->path, n_out, VG_MAX_OUTPUTS);
    rc = read_info(s, 1, 0, &s->input, &s->input_name);
    if (rc < 0)
        return rc;
    if (s->input.elem_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
        return status_fail(s, NULL, VG_ENOTSUP,
                           "%s: input %s is not float32 (type %d)", s->path,
                           s->input.name, s->input.elem_type);
    s->input_declared = s->input;
    s->input_count = static_count(&s->input);
    s->n_outputs = (int)n_out;
    for (int i = 0; i < s->n_outputs; i++) {
        rc = read_info(s, 0, (size_t)i, &s->outputs[i].info,
                       &s->outputs[i].name);
        if (rc < 0)
            return rc;
        s->output_names[i] = s->outputs[i].name;
        if (s->outputs[i].info.elem_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
            return status_fail(
                s, NULL, VG_ENOTSUP,
                "%s: output '%s' is %s; vigil reads float32 outputs only",
                s->path, s->outputs[i].info.name,
                vg_tensor_type_name(s->outputs[i].info.elem_type));
    }
    return bind_static_outputs(s);
}

int vg_session_create(vg_context *ctx, const char *model_path,
                      const vg_session_opts *o, vg_session **out)
{
    vg_session *s;
    vg_session_opts defaults;
    int rc;

    if (out == NULL)
        return vg_fail(ctx, VG_EINVAL, "vg_session_create: out is NULL");
    *out = NULL;
    if (model_path == NULL)
        return vg_fail(ctx, VG_EINVAL, "vg_session_create: no model path");
    if (o == NULL) {
        vg_session_opts_default(&defaults);
        o = &defaults;
    }
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (s == NULL)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", model_path);
    s->ctx = ctx;
    s->api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    s->provider = "CPUExecutionProvider";
    if (s->api == NULL) {
        vg_free(ctx, s);
        return vg_fail(ctx, VG_EINFER,
                       "%s: ONNX Runtime does not provide API version %d",
                       model_path, ORT_API_VERSION);
    }
    s->path = vg_strdup(ctx, model_path);
    if (s->path == NULL) {
        vg_free(ctx, s);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", model_path);
    }
    rc = load(s, o);
    if (rc < 0) {
        vg_fail(ctx, rc, "%s", s->errmsg);
        vg_session_destroy(&s);
        return rc;
    }
    *out = s;
    return 0;
}

int vg_session_input(const vg_session *s, vg_tensor_info *out)
{
    if (s == NULL || out == NULL)
        return VG_EINVAL;
    *out = s->input;
    return 0;
}

int vg_session_output_count(const vg_session *s)
{
    return s == NULL ? VG_EINVAL : s->n_outputs;
}

int vg_session_output(const vg_session *s, int i, vg_tensor_info *out)
{
    if (s == NULL || out == NULL || i < 0 || i >= s->n_outputs)
        return VG_EINVAL;
    *out = s->outputs[i].info;
    return 0;
}

int vg_session_output_shape(const vg_session *s, int i, vg_tensor_info *out)
{
    if (s == NULL || out == NULL || i < 0 || i >= s->n_outputs)
        return VG_EINVAL;
    *out = s->outputs[i].last;
    return 0;
}

size_t vg_session_output_elements(const vg_session *s, int i)
{
    if (s == NULL || i < 0 || i >= s->n_outputs)
        return 0;
    return s->outputs[i].last_count;
}

int vg_session_input_declared(const vg_session *s, vg_tensor_info *out)
{
    if (s == NULL || out == NULL)
        return VG_EINVAL;
    *out = s->input_declared;
    return 0;
}

int vg_session_set_input_shape(vg_session *s, const int64_t *dims)
{
    vg_tensor_info t;
    if (s == NULL || dims == NULL)
        return VG_EINVAL;
    if (s->input_count > 0 &&
        memcmp(s->input.dims, dims, (size_t)s->input.ndim * sizeof(dims[0])) ==
            0)
        return 0; /* already this shape: the wrapped input stays valid */
    t = s->input;
    for (int k = 0; k < t.ndim; k++) {
        if (dims[k] <= 0 || (s->input_declared.dims[k] > 0 &&
                             dims[k] != s->input_declared.dims[k]))
            return status_fail(s, NULL, VG_EINVAL,
                               "%s: input dimension %d cannot be %lld", s->path,
                               k, (long long)dims[k]);
        t.dims[k] = dims[k];
    }
    memcpy(s->input.dims, t.dims, sizeof(t.dims));
    s->input_count = static_count(&s->input);
    s->api->ReleaseValue(s->input_value);
    s->input_value = NULL;
    s->input_ptr = NULL;
    return 0;
}

/* Records the shape and element count of output i from the value ONNX
 * Runtime returned, checking that it holds float32 elements, as many as its
 * shape says. */
static int read_result_shape(vg_session *s, int i)
{
    const OrtApi *api = s->api;
    session_output *so = &s->outputs[i];
    OrtTensorTypeAndShapeInfo *tsi = NULL;
    ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t nd = 0, count = 0, product = 1;
    int64_t dims[VG_MAX_DIMS];
    OrtStatus *st;

    so->last_count = 0;
    if (so->value == NULL)
        return status_fail(s, NULL, VG_EINFER, "%s: output '%s' is missing",
                           s->path, so->info.name);
    st = api->GetTensorTypeAndShape(so->value, &tsi);
    if (st == NULL)
        st = api->GetTensorElementType(tsi, &et);
    if (st == NULL)
        st = api->GetDimensionsCount(tsi, &nd);
    if (st == NULL && nd <= VG_MAX_DIMS)
        st = api->GetDimensions(tsi, dims, nd);
    if (st == NULL)
        st = api->GetTensorShapeElementCount(tsi, &count);
    api->ReleaseTensorTypeAndShapeInfo(tsi);
    if (st != NULL)
        return status_fail(s, st, VG_EINFER, "%s: shape of output '%s'",
                           s->path, so->info.name);
    if (et != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
        return status_fail(s, NULL, VG_EINFER,
                           "%s: output '%s' came back as %s; vigil reads "
                           "float32 outputs only",
                           s->path, so->info.name, vg_tensor_type_name(et));
    if (nd > VG_MAX_DIMS)
        return status_fail(s, NULL, VG_EINFER, "%s: output '%s' has rank %zu",
                           s->path, so->info.name, nd);
    for (size_t k = 0; k < nd; k++) {
        if (dims[k] < 0 ||
            (dims[k] > 0 && product > SIZE_MAX / (size_t)dims[k])) {
            product = 0;
            break;
        }
        product *= (size_t)dims[k];
    }
    if (product != count)
        return status_fail(s, NULL, VG_EINFER,
                           "%s: output '%s' holds %zu values, its shape "
                           "says %zu",
                           s->path, so->info.name, count, product);
    memcpy(so->last.dims, dims, nd * sizeof(dims[0]));
    so->last.ndim = (int)nd;
    so->last_count = count;
    return 0;
}

int vg_session_run(vg_session *s, const float *input, const float **outs)
{
    const OrtApi *api;
    OrtStatus *st;
    const char *in_name;
    int rc;

    if (s == NULL || input == NULL || outs == NULL)
        return VG_EINVAL;
    api = s->api;
    if (s->input_count == 0)
        return status_fail(s, NULL, VG_EINVAL,
                           "%s: input %s has dynamic dimensions; call "
                           "vg_session_set_input_shape first",
                           s->path, s->input.name);
    if (s->input_value == NULL || s->input_ptr != input) {
        api->ReleaseValue(s->input_value);
        s->input_value = NULL;
        st = api->CreateTensorWithDataAsOrtValue(
            s->mem, (void *)input, s->input_count * sizeof(float),
            s->input.dims, (size_t)s->input.ndim,
            ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &s->input_value);
        if (st != NULL)
            return status_fail(s, st, VG_EINFER, "%s: wrapping the input",
                               s->path);
        s->input_ptr = input;
    }
    for (int i = 0; i < s->n_outputs; i++) {
        session_output *so = &s->outputs[i];
        if (so->buf == NULL) { /* ORT allocates dynamic outputs per run */
            api->ReleaseValue(so->value);
            so->value = NULL;
        }
        s->run_values[i] = so->value;
    }
    in_name = s->input_name;
    /* ONNX Runtime allocates the run's working memory out of vigil's sight;
     * this fault point stands for those allocations in tests. */
    if (vg_context_fault_point(s->ctx))
        return status_fail(s, NULL, VG_ENOMEM,
                           "%s: out of memory during inference (injected)",
                           s->path);
    st = api->Run(s->session, NULL, &in_name,
                  (const OrtValue *const *)&s->input_value, 1, s->output_names,
                  (size_t)s->n_outputs, s->run_values);
    if (st != NULL)
        return status_fail(s, st, is_oom(api, st) ? VG_ENOMEM : VG_EINFER,
                           "%s: inference failed", s->path);
    for (int i = 0; i < s->n_outputs; i++) {
        session_output *so = &s->outputs[i];
        void *data = NULL;
        if (so->buf == NULL) {
            so->value = s->run_values[i];
            rc = read_result_shape(s, i);
            if (rc < 0)
                return rc;
            st = api->GetTensorMutableData(so->value, &data);
            if (st != NULL)
                return status_fail(s, st, VG_EINFER, "%s: data of output %s",
                                   s->path, so->info.name);
            outs[i] = data;
        } else {
            outs[i] = so->buf;
        }
    }
    return 0;
}

int vg_session_arena_stats(vg_session *s, vg_arena_stats *out)
{
    const OrtApi *api;
    OrtMemoryInfo *mi = NULL;
    OrtAllocator *a = NULL;
    OrtKeyValuePairs *kv = NULL;
    OrtStatus *st;
    const char *const *keys, *const *vals;
    size_t n = 0;

    if (s == NULL || out == NULL)
        return VG_EINVAL;
    memset(out, 0, sizeof(*out));
    api = s->api;
    st = api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mi);
    if (st == NULL)
        st = api->CreateAllocator(s->session, mi, &a);
    if (st == NULL)
        st = api->AllocatorGetStats(a, &kv);
    if (st != NULL) {
        api->ReleaseStatus(st);
        if (a != NULL)
            api->ReleaseAllocator(a);
        if (mi != NULL)
            api->ReleaseMemoryInfo(mi);
        return VG_ENOTSUP;
    }
    api->GetKeyValuePairs(kv, &keys, &vals, &n);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = strtoull(vals[i], NULL, 10);
        if (!strcmp(keys[i], "InUse"))
            out->in_use = v;
        else if (!strcmp(keys[i], "TotalAllocated"))
            out->total_allocated = v;
        else if (!strcmp(keys[i], "MaxInUse"))
            out->max_in_use = v;
        else if (!strcmp(keys[i], "NumArenaExtensions"))
            out->extensions = v;
    }
    api->ReleaseKeyValuePairs(kv);
    api->ReleaseAllocator(a);
    api->ReleaseMemoryInfo(mi);
    return n > 0 ? 0 : VG_ENOTSUP;
}

const char *vg_session_provider(const vg_session *s)
{
    return s == NULL ? "" : s->provider;
}

const char *vg_session_errmsg(const vg_session *s)
{
    return s == NULL ? "" : s->errmsg;
}

void vg_session_destroy(vg_session **sp)
{
    vg_session *s;
    const OrtApi *api;
    if (sp == NULL || *sp == NULL)
        return;
    s = *sp;
    api = s->api;
    for (int i = 0; i < VG_MAX_OUTPUTS; i++) {
        session_output *so = &s->outputs[i];
        if (so->value != NULL)
            api->ReleaseValue(so->value);
        vg_free(s->ctx, so->buf);
        vg_free(s->ctx, so->name);
    }
    if (s->input_value != NULL)
        api->ReleaseValue(s->input_value);
    if (s->session != NULL)
        api->ReleaseSession(s->session);
    if (s->mem != NULL)
        api->ReleaseMemoryInfo(s->mem);
    if (s->env != NULL)
        api->ReleaseEnv(s->env);
    vg_free(s->ctx, s->input_name);
    vg_free(s->ctx, s->path);
    vg_free(s->ctx, s);
    *sp = NULL;
}
