/* PyTorch zip checkpoints without code execution (see torch_bin.h): a stored-zip reader (zip64 too),
 * a restricted pickle machine building plain values, and the state_dict -> safetensors entries. */
#include "io/torch_bin.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VALUES (1 << 24)
#define MAX_DEPTH (1 << 16)

/* ---- zip ---- */
typedef struct zent {
  const char *name;
  size_t name_len;
  const uint8_t *data;
  uint64_t size;
} zent;

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

static hm_status zip_read(const uint8_t *d, size_t n, const char *name, zent **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  if (n < 22) return hm_error(HM_ERR_FORMAT, "%s: too short for a zip (%zu bytes): not a torch.save checkpoint", name, n);
  size_t eo = n - 22, lo = n > 65557 ? n - 65557 : 0;
  for (;; eo--) {
    if (u32(d + eo) == 0x06054b50) break;
    if (eo == lo) return hm_error(HM_ERR_FORMAT, "%s: no zip end record: not a torch.save checkpoint (old non-zip "
                                  "torch files are not supported)", name);
  }
  uint64_t count = u16(d + eo + 10), cd_size = u32(d + eo + 12), cd_off = u32(d + eo + 16);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
    if (eo < 20 || u32(d + eo - 20) != 0x07064b50) return hm_error(HM_ERR_FORMAT, "%s: zip64 locator missing", name);
    uint64_t z = u64(d + eo - 20 + 8);
    if (n < 56 || z > n - 56 || u32(d + z) != 0x06064b50) return hm_error(HM_ERR_FORMAT, "%s: bad zip64 end record", name);
    count = u64(d + z + 32);
    cd_size = u64(d + z + 40);
    cd_off = u64(d + z + 48);
  }
  if (cd_off > n || cd_size > n - cd_off || count > cd_size / 46)
    return hm_error(HM_ERR_FORMAT, "%s: zip central directory out of bounds", name);
  zent *e = calloc(count ? count : 1, sizeof *e);
  if (!e) return hm_error(HM_ERR_NOMEM, "out of memory");
  const uint8_t *p = d + cd_off, *end = d + cd_off + cd_size;
  for (uint64_t i = 0; i < count; i++) {
    if (end - p < 46 || u32(p) != 0x02014b50) { free(e); return hm_error(HM_ERR_FORMAT, "%s: bad zip entry %llu", name, (unsigned long long)i); }
    uint16_t method = u16(p + 10), nl = u16(p + 28), xl = u16(p + 30), cl = u16(p + 32);
    uint64_t csize = u32(p + 20), usize = u32(p + 24), loff = u32(p + 42);
    if ((size_t)(end - p) < 46u + nl + xl + cl) { free(e); return hm_error(HM_ERR_FORMAT, "%s: zip entry %llu truncated", name, (unsigned long long)i); }
    for (const uint8_t *x = p + 46 + nl, *xe = x + xl; xe - x >= 4;) { /* zip64 sizes / offset */
      uint16_t id = u16(x), len = u16(x + 2);
      if ((size_t)(xe - x - 4) < len) break;
      if (id == 0x0001) {
        const uint8_t *f = x + 4, *fe = f + len;
        if (usize == 0xFFFFFFFFu && fe - f >= 8) { usize = u64(f); f += 8; }
        if (csize == 0xFFFFFFFFu && fe - f >= 8) { csize = u64(f); f += 8; }
        if (loff == 0xFFFFFFFFu && fe - f >= 8) loff = u64(f);
      }
      x += 4 + len;
    }
    e[i].name = (const char *)p + 46;
    e[i].name_len = nl;
    if (method != 0 || csize != usize) {
      hm_status st = hm_error(HM_ERR_UNSUPPORTED, "%s: zip entry '%.*s' is compressed (method %u): torch.save writes "
                              "stored entries only", name, (int)nl, e[i].name, method);
      free(e);
      return st;
    }
    if (n < 30 || loff > n - 30 || u32(d + loff) != 0x04034b50) { hm_status err_ = hm_error(HM_ERR_FORMAT, "%s: zip entry '%.*s': bad local header", name, (int)nl, e[i].name); free(e); return err_; }
    uint64_t doff = loff + 30 + u16(d + loff + 26) + u16(d + loff + 28);
    if (doff > n || usize > n - doff) { hm_status err_ = hm_error(HM_ERR_FORMAT, "%s: zip entry '%.*s' runs past the end of the file", name, (int)nl, e[i].name); free(e); return err_; }
    e[i].data = d + doff;
    e[i].size = usize;
    p += 46 + nl + xl + cl;
  }
  *out = e;
  *n_out = (int)count;
  return HM_OK;
}

static const zent *zip_find(const zent *e, int n, const char *prefix, size_t plen, const char *rest, size_t rlen) {
  for (int i = 0; i < n; i++)
    if (e[i].name_len == plen + rlen && !memcmp(e[i].name, prefix, plen) && !memcmp(e[i].name + plen, rest, rlen))
      return &e[i];
  return NULL;
}

/* ---- restricted pickle machine ---- */
typedef enum vkind { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_MARK } vkind;
typedef enum gkind { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE } gkind;

typedef struct val {
  vkind k;
  int64_t i;          /* int / bool; global: gkind; storage: numel */
  hm_dtype dt;        /* storage type, tensor dtype */
  const char *s;      /* string (not NUL-terminated), storage key */
  size_t slen;
  int *it;            /* tuple / list items; dict: key, value pairs; tensor: [storage] */
  int n, cap;
  int64_t off, shape[HM_MAX_DIMS], stride[HM_MAX_DIMS]; /* tensor */
  int nd;
} val;

typedef struct pm {
  const char *name;
  const uint8_t *p;
  size_t n, pos;
  val *v;
  int nv, capv;
  int *stack, ns, caps;
  int *memo;
  size_t nmemo;
} pm;

static const char *const kind_name[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict", "global",
                                        "storage", "tensor", "mark"};

/* "<name>: data.pkl byte <pos>: <msg><what>" */
static hm_status perr(pm *m, const char *msg, const char *what) {
  return hm_error(HM_ERR_FORMAT, "%s: data.pkl byte %zu: %s%s", m->name, m->pos, msg, what ? what : "");
}

static int newv(pm *m, vkind k) {
  if (m->nv == m->capv) {
    if (m->capv >= MAX_VALUES) return -1;
    int cap = m->capv ? m->capv * 2 : 256;
    val *v = realloc(m->v, sizeof *v * (size_t)cap);
    if (!v) return -1;
    m->v = v;
    m->capv = cap;
  }
  memset(&m->v[m->nv], 0, sizeof *m->v);
  m->v[m->nv].k = k;
  return m->nv++;
}

static bool add_item(val *v, int x) {
  if (v->n == v->cap) {
    if (v->cap > MAX_VALUES) return false;
    int cap = v->cap ? v->cap * 2 : 4;
    int *it = realloc(v->it, sizeof(int) * (size_t)cap);
    if (!it) return false;
    v->it = it;
    v->cap = cap;
  }
  v->it[v->n++] = x;
  return true;
}

static bool push(pm *m, int x) {
  if (x < 0) return false;
  if (m->ns == m->caps) {
    if (m->caps >= MAX_DEPTH * 16) return false;
    int cap = m->caps ? m->caps * 2 : 64;
    int *s = realloc(m->stack, sizeof(int) * (size_t)cap);
    if (!s) return false;
    m->stack = s;
    m->caps = cap;
  }
  m->stack[m->ns++] = x;
  return true;
}

static int pop(pm *m) { return m->ns > 0 ? m->stack[--m->ns] : -1; }

/* Index on the stack of the topmost mark, or -1. */
static int find_mark(pm *m) {
  for (int i = m->ns - 1; i >= 0; i--)
    if (m->v[m->stack[i]].k == V_MARK) return i;
  return -1;
}

static bool str_is(const val *v, const char *s) { return v->k == V_STR && v->slen == strlen(s) && !memcmp(v->s, s, v->slen); }

static bool dict_set(pm *m, int d, int k, int x) {
  val *dv = &m->v[d];
  const val *kv = &m->v[k];
  for (int i = 0; i + 1 < dv->n; i += 2) {
    const val *o = &m->v[dv->it[i]];
    if (o->k == V_STR && kv->k == V_STR && o->slen == kv->slen && !memcmp(o->s, kv->s, o->slen)) {
      dv->it[i + 1] = x;
      return true;
    }
  }
  return add_item(dv, k) && add_item(&m->v[d], x);
}

static const struct { const char *name; hm_dtype dt; } storages[] = {
  {"FloatStorage", HM_DT_F32}, {"HalfStorage", HM_DT_F16}, {"BFloat16Storage", HM_DT_BF16}, {"DoubleStorage", HM_DT_F64},
  {"LongStorage", HM_DT_I64}, {"IntStorage", HM_DT_I32}, {"ShortStorage", HM_DT_I16}, {"CharStorage", HM_DT_I8},
  {"ByteStorage", HM_DT_U8}, {"BoolStorage", HM_DT_BOOL}};

static hm_status global(pm *m, const char *mod, size_t ml, const char *nm, size_t nl) {
  int g = newv(m, V_GLOBAL);
  if (g < 0) return hm_error(HM_ERR_NOMEM, "%s: data.pkl: too many values", m->name);
#define IS(a, b) (ml == strlen(a) && !memcmp(mod, a, ml) && nl == strlen(b) && !memcmp(nm, b, nl))
  if (IS("collections", "OrderedDict")) m->v[g].i = G_ODICT;
  else if (IS("torch._utils", "_rebuild_tensor_v2")) m->v[g].i = G_REBUILD_V2;
  else if (IS("torch._utils", "_rebuild_parameter")) m->v[g].i = G_REBUILD_PARAM;
  else {
    bool ok = false;
    for (size_t i = 0; !ok && i < sizeof storages / sizeof storages[0]; i++)
      if (IS("torch", storages[i].name)) { m->v[g].i = G_STORAGE; m->v[g].dt = storages[i].dt; ok = true; }
    if (!ok)
      return hm_error(HM_ERR_FORMAT, "%s: data.pkl byte %zu: unexpected object '%.*s.%.*s' in the pickle (only "
                      "tensors and plain data are accepted; nothing is executed)", m->name, m->pos,
                      (int)(ml < 200 ? ml : 200), mod, (int)(nl < 200 ? nl : 200), nm);
  }
#undef IS
  return push(m, g) ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static hm_status rebuild_tensor(pm *m, int args, int *out) {
  const val *a = &m->v[args];
  if (a->n < 4) return perr(m, "_rebuild_tensor_v2 with too few arguments", NULL);
  const val *s = &m->v[a->it[0]], *o = &m->v[a->it[1]], *sz = &m->v[a->it[2]], *sd = &m->v[a->it[3]];
  if (s->k != V_STORAGE || o->k != V_INT || sz->k != V_TUPLE || sd->k != V_TUPLE || sz->n != sd->n)
    return perr(m, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride)", NULL);
  if (sz->n > HM_MAX_DIMS) return perr(m, "tensor with more than 8 dims", NULL);
  int t = newv(m, V_TENSOR);
  if (t < 0) return hm_error(HM_ERR_NOMEM, "out of memory");
  a = &m->v[args]; /* newv may move the array */
  val *tv = &m->v[t];
  tv->dt = m->v[a->it[0]].dt;
  tv->off = m->v[a->it[1]].i;
  tv->nd = m->v[a->it[2]].n;
  for (int d = 0; d < tv->nd; d++) {
    const val *x = &m->v[m->v[a->it[2]].it[d]], *y = &m->v[m->v[a->it[3]].it[d]];
    if (x->k != V_INT || y->k != V_INT || x->i < 0 || y->i < 0) return perr(m, "tensor size/stride is not a non-negative int", NULL);
    tv->shape[d] = x->i;
    tv->stride[d] = y->i;
  }
  if (tv->off < 0) return perr(m, "negative storage offset", NULL);
  if (!add_item(tv, a->it[0])) return hm_error(HM_ERR_NOMEM, "out of memory");
  *out = t;
  return HM_OK;
}

static hm_status reduce(pm *m) {
  int args = pop(m), fn = pop(m);
  if (args < 0 || fn < 0) return perr(m, "REDUCE on an empty stack", NULL);
  if (m->v[fn].k != V_GLOBAL) return perr(m, "REDUCE of a ", kind_name[m->v[fn].k]);
  if (m->v[args].k != V_TUPLE) return perr(m, "REDUCE arguments are not a tuple", NULL);
  int r = -1;
  switch ((gkind)m->v[fn].i) {
  case G_ODICT:
    if (m->v[args].n != 0) return perr(m, "OrderedDict with arguments", NULL);
    r = newv(m, V_DICT);
    break;
  case G_REBUILD_V2:
    HM_TRY(rebuild_tensor(m, args, &r));
    break;
  case G_REBUILD_PARAM:
    if (m->v[args].n < 1 || m->v[m->v[args].it[0]].k != V_TENSOR) return perr(m, "_rebuild_parameter of a non-tensor", NULL);
    r = m->v[args].it[0];
    break;
  case G_STORAGE:
    return perr(m, "a storage type called directly", NULL);
  }
  return push(m, r) ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
}

static bool need(pm *m, size_t k) { return m->n - m->pos >= k; }

static hm_status run(pm *m, int *result) {
  hm_status st;
  for (;;) {
    if (!need(m, 1)) return perr(m, "truncated pickle (no STOP)", NULL);
    const size_t at = m->pos;
    const uint8_t op = m->p[m->pos++];
    int x = -2;
    switch (op) {
    case 0x80: if (!need(m, 1)) goto trunc; m->pos++; continue;            /* PROTO */
    case 0x95: if (!need(m, 8)) goto trunc; m->pos += 8; continue;         /* FRAME */
    case '}': x = newv(m, V_DICT); break;
    case ']': x = newv(m, V_LIST); break;
    case ')': x = newv(m, V_TUPLE); break;
    case '(': x = newv(m, V_MARK); break;
    case 'N': x = newv(m, V_NONE); break;
    case 0x88: case 0x89: x = newv(m, V_BOOL); if (x >= 0) m->v[x].i = op == 0x88; break;
    case 'K': if (!need(m, 1)) goto trunc; x = newv(m, V_INT); if (x >= 0) m->v[x].i = m->p[m->pos]; m->pos += 1; break;
    case 'M': if (!need(m, 2)) goto trunc; x = newv(m, V_INT); if (x >= 0) m->v[x].i = u16(m->p + m->pos); m->pos += 2; break;
    case 'J': if (!need(m, 4)) goto trunc; x = newv(m, V_INT); if (x >= 0) m->v[x].i = (int32_t)u32(m->p + m->pos); m->pos += 4; break;
    case 0x8a: { /* LONG1 */
      if (!need(m, 1)) goto trunc;
      size_t k = m->p[m->pos++];
      if (k > 8) return perr(m, "integer wider than 64 bits", NULL);
      if (!need(m, k)) goto trunc;
      uint64_t u = 0;
      for (size_t i = 0; i < k; i++) u |= (uint64_t)m->p[m->pos + i] << (8 * i);
      if (k > 0 && k < 8 && (m->p[m->pos + k - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * k);
      m->pos += k;
      x = newv(m, V_INT);
      if (x >= 0) m->v[x].i = (int64_t)u;
      break;
    }
    case 'G': {
      if (!need(m, 8)) goto trunc;
      uint64_t u = 0;
      for (int i = 0; i < 8; i++) u = u << 8 | m->p[m->pos + i];
      m->pos += 8;
      x = newv(m, V_FLOAT);
      if (x >= 0) memcpy(&m->v[x].i, &u, 8);
      break;
    }
    case 'X': case 0x8c: case 0x8d: case 'U': case 'T': { /* strings */
      size_t w = op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4;
      if (!need(m, w)) goto trunc;
      uint64_t len = w == 1 ? m->p[m->pos] : w == 4 ? u32(m->p + m->pos) : u64(m->p + m->pos);
      m->pos += w;
      if (!need(m, len)) goto trunc;
      x = newv(m, V_STR);
      if (x >= 0) { m->v[x].s = (const char *)m->p + m->pos; m->v[x].slen = len; }
      m->pos += len;
      break;
    }
    case 'c': { /* GLOBAL: module\nname\n */
      const uint8_t *a = m->p + m->pos, *e1 = memchr(a, '\n', m->n - m->pos);
      if (!e1) goto trunc;
      const uint8_t *b = e1 + 1, *e2 = memchr(b, '\n', (size_t)(m->p + m->n - b));
      if (!e2) goto trunc;
      m->pos = (size_t)(e2 + 1 - m->p);
      HM_TRY(global(m, (const char *)a, (size_t)(e1 - a), (const char *)b, (size_t)(e2 - b)));
      continue;
    }
    case 0x93: { /* STACK_GLOBAL */
      int nm = pop(m), md = pop(m);
      if (nm < 0 || md < 0 || m->v[nm].k != V_STR || m->v[md].k != V_STR) return perr(m, "STACK_GLOBAL without two strings", NULL);
      HM_TRY(global(m, m->v[md].s, m->v[md].slen, m->v[nm].s, m->v[nm].slen));
      continue;
    }
    case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
      size_t id;
      if (op == 0x94) id = m->nmemo;
      else {
        size_t w = op == 'q' ? 1 : 4;
        if (!need(m, w)) goto trunc;
        id = w == 1 ? m->p[m->pos] : u32(m->p + m->pos);
        m->pos += w;
      }
      if (m->ns < 1) return perr(m, "memo store on an empty stack", NULL);
      if (id > (size_t)MAX_VALUES) return perr(m, "memo index too large", NULL);
      if (id >= m->nmemo) {
        int *mm = realloc(m->memo, sizeof(int) * (id + 1));
        if (!mm) return hm_error(HM_ERR_NOMEM, "out of memory");
        for (size_t i = m->nmemo; i <= id; i++) mm[i] = -1;
        m->memo = mm;
        m->nmemo = id + 1;
      }
      m->memo[id] = m->stack[m->ns - 1];
      continue;
    }
    case 'h': case 'j': {
      size_t w = op == 'h' ? 1 : 4;
      if (!need(m, w)) goto trunc;
      size_t id = w == 1 ? m->p[m->pos] : u32(m->p + m->pos);
      m->pos += w;
      if (id >= m->nmemo || m->memo[id] < 0) return perr(m, "memo get of an unset index", NULL);
      x = m->memo[id];
      break;
    }
    case 't': case 'l': case 'd': { /* TUPLE, LIST, DICT from the mark */
      int mk = find_mark(m);
      if (mk < 0) return perr(m, "no mark for TUPLE/LIST/DICT", NULL);
      x = newv(m, op == 't' ? V_TUPLE : op == 'l' ? V_LIST : V_DICT);
      if (x < 0) break;
      if (op == 'd' && (m->ns - mk - 1) % 2) return perr(m, "DICT with an odd number of items", NULL);
      for (int i = mk + 1; i < m->ns; i += op == 'd' ? 2 : 1) {
        bool ok = op == 'd' ? (m->v[m->stack[i]].k == V_STR ? dict_set(m, x, m->stack[i], m->stack[i + 1])
                                                           : false)
                            : add_item(&m->v[x], m->stack[i]);
        if (!ok) return op == 'd' ? perr(m, "dict key that is not a string", NULL) : hm_error(HM_ERR_NOMEM, "out of memory");
      }
      m->ns = mk;
      break;
    }
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
      int k = op - 0x84;
      if (m->ns < k) return perr(m, "TUPLE on a short stack", NULL);
      x = newv(m, V_TUPLE);
      for (int i = m->ns - k; x >= 0 && i < m->ns; i++)
        if (!add_item(&m->v[x], m->stack[i])) return hm_error(HM_ERR_NOMEM, "out of memory");
      m->ns -= k;
      break;
    }
    case 'a': case 'e': { /* APPEND, APPENDS */
      int lo = op == 'a' ? m->ns - 1 : find_mark(m) + 1;
      if (lo < 1 + (op == 'e') || lo > m->ns) return perr(m, "APPEND(S) without a list", NULL);
      int l = m->stack[lo - 1 - (op == 'e')];
      if (m->v[l].k != V_LIST) return perr(m, "APPEND to a ", kind_name[m->v[l].k]);
      for (int i = lo; i < m->ns; i++)
        if (!add_item(&m->v[l], m->stack[i])) return hm_error(HM_ERR_NOMEM, "out of memory");
      m->ns = op == 'a' ? lo : lo - 1;
      continue;
    }
    case 's': case 'u': { /* SETITEM, SETITEMS */
      int lo = op == 's' ? m->ns - 2 : find_mark(m) + 1;
      if (lo < 1 + (op == 'u') || (m->ns - lo) % 2) return perr(m, "SETITEM(S) with a bad stack", NULL);
      int d = m->stack[lo - 1 - (op == 'u')];
      if (m->v[d].k != V_DICT) return perr(m, "SETITEM on a ", kind_name[m->v[d].k]);
      for (int i = lo; i < m->ns; i += 2) {
        if (m->v[m->stack[i]].k != V_STR) return perr(m, "dict key that is not a string: a ", kind_name[m->v[m->stack[i]].k]);
        if (!dict_set(m, d, m->stack[i], m->stack[i + 1])) return hm_error(HM_ERR_NOMEM, "out of memory");
      }
      m->ns = op == 's' ? lo : lo - 1;
      continue;
    }
    case 'R':
      HM_TRY(reduce(m));
      continue;
    case 'b': { /* BUILD: only an OrderedDict's attributes (a state_dict's _metadata): kept as data, unused */
      int state = pop(m);
      if (state < 0 || m->ns < 1) return perr(m, "BUILD on a short stack", NULL);
      if (m->v[m->stack[m->ns - 1]].k != V_DICT) return perr(m, "BUILD of a ", kind_name[m->v[m->stack[m->ns - 1]].k]);
      continue;
    }
    case 'Q': { /* BINPERSID: ('storage', torch.<T>Storage, key, location, numel) */
      int pid = pop(m);
      const val *t = pid >= 0 ? &m->v[pid] : NULL;
      if (!t || t->k != V_TUPLE || t->n != 5 || !str_is(&m->v[t->it[0]], "storage") ||
          m->v[t->it[1]].k != V_GLOBAL || m->v[t->it[1]].i != G_STORAGE || m->v[t->it[2]].k != V_STR ||
          m->v[t->it[4]].k != V_INT)
        return perr(m, "persistent id that is not ('storage', torch.<T>Storage, key, location, numel)", NULL);
      x = newv(m, V_STORAGE);
      if (x >= 0) {
        t = &m->v[pid];
        m->v[x].dt = m->v[t->it[1]].dt;
        m->v[x].s = m->v[t->it[2]].s;
        m->v[x].slen = m->v[t->it[2]].slen;
        m->v[x].i = m->v[t->it[4]].i;
      }
      break;
    }
    case '.':
      if (m->ns != 1) return perr(m, "STOP with a stack that does not hold one value", NULL);
      *result = m->stack[0];
      return HM_OK;
    default: {
      m->pos = at;
      char what[64];
      snprintf(what, sizeof what, "0x%02x", op);
      st = perr(m, "pickle opcode not accepted (only plain data and tensors): ", what);
      return st;
    }
    }
    if (x == -2) continue;
    if (!push(m, x)) return hm_error(HM_ERR_NOMEM, "%s: data.pkl: too many values", m->name);
  }
trunc:
  return perr(m, "truncated pickle", NULL);
}

/* ---- state_dict -> entries ---- */
struct hm_torch_bin {
  hm_st_entry *e;
  char **names;
  void **owned; /* copies of strided tensors */
  int n;
  void *map;
  size_t map_size;
};

void hm_torch_bin_free(hm_torch_bin *b) {
  if (!b) return;
  for (int i = 0; i < b->n; i++) {
    free(b->names[i]);
    free(b->owned[i]);
  }
  free(b->names);
  free(b->owned);
  free(b->e);
  if (b->map) munmap(b->map, b->map_size);
  free(b);
}

int hm_torch_bin_count(const hm_torch_bin *b) { return b ? b->n : 0; }
const hm_st_entry *hm_torch_bin_entries(const hm_torch_bin *b) { return b ? b->e : NULL; }

static void free_pm(pm *m) {
  for (int i = 0; i < m->nv; i++) free(m->v[i].it);
  free(m->v);
  free(m->stack);
  free(m->memo);
}

/* Copies a strided view into a C-contiguous buffer. */
static void gather(uint8_t *dst, const uint8_t *src, const int64_t *shape, const int64_t *stride, int nd, size_t es) {
  int64_t idx[HM_MAX_DIMS] = {0}, total = 1;
  for (int d = 0; d < nd; d++) total *= shape[d];
  for (int64_t k = 0; k < total; k++) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++) off += idx[d] * stride[d];
    memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

static hm_status tensors(pm *m, int root, const zent *z, int nz, const char *pre, size_t plen, hm_torch_bin *b) {
  const val *r = &m->v[root];
  if (r->k != V_DICT) return hm_error(HM_ERR_FORMAT, "%s: the pickle holds a %s, not a state_dict (a dict of tensors)",
                                      m->name, kind_name[r->k]);
  const int n = r->n / 2;
  b->e = calloc((size_t)(n ? n : 1), sizeof *b->e);
  b->names = calloc((size_t)(n ? n : 1), sizeof *b->names);
  b->owned = calloc((size_t)(n ? n : 1), sizeof *b->owned);
  if (!b->e || !b->names || !b->owned) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    const val *k = &m->v[r->it[2 * i]], *t = &m->v[r->it[2 * i + 1]];
    if (t->k != V_TENSOR)
      return hm_error(HM_ERR_FORMAT, "%s: entry '%.*s' is a %s, not a tensor (only tensors are accepted)", m->name,
                      (int)(k->slen < 200 ? k->slen : 200), k->s, kind_name[t->k]);
    if (!(b->names[i] = malloc(k->slen + 1))) return hm_error(HM_ERR_NOMEM, "out of memory");
    memcpy(b->names[i], k->s, k->slen);
    b->names[i][k->slen] = 0;
    b->n = i + 1;
    if (strlen(b->names[i]) != k->slen) return hm_error(HM_ERR_FORMAT, "%s: a tensor name holds a NUL byte", m->name);
    const val *s = &m->v[t->it[0]];
    char rec[300];
    int rl = snprintf(rec, sizeof rec, "data/%.*s", (int)(s->slen < 200 ? s->slen : 200), s->s);
    const zent *ze = zip_find(z, nz, pre, plen, rec, (size_t)rl);
    if (!ze) return hm_error(HM_ERR_FORMAT, "%s: tensor '%s': storage record '%.*s%s' is missing", m->name, b->names[i],
                             (int)plen, pre, rec);
    const size_t es = hm_dtype_bytes(t->dt, 1);
    int64_t count = 1, extent = 0;
    for (int d = 0; d < t->nd; d++) {
      if (t->shape[d] > 0 && count > INT64_MAX / t->shape[d]) return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is too large", m->name, b->names[i]);
      count *= t->shape[d];
      if (t->shape[d] > 0 && t->stride[d] > 0 && (t->shape[d] - 1) > (INT64_MAX / 16) / t->stride[d])
        return hm_error(HM_ERR_FORMAT, "%s: tensor '%s': stride out of range", m->name, b->names[i]);
      extent += (t->shape[d] - 1) * t->stride[d];
    }
    const uint64_t have = ze->size / es;
    if (count > 0 && ((uint64_t)t->off > have || (uint64_t)extent >= have - (uint64_t)t->off))
      return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' reaches past its storage (%llu values)", m->name, b->names[i],
                      (unsigned long long)have);
    bool contiguous = true;
    int64_t want = 1;
    for (int d = t->nd - 1; d >= 0; d--) {
      if (t->shape[d] != 1 && t->stride[d] != want) contiguous = false;
      want *= t->shape[d] > 0 ? t->shape[d] : 1;
    }
    hm_st_entry *e = &b->e[i];
    e->name = b->names[i];
    e->dtype = t->dt;
    e->n_dims = t->nd;
    for (int d = 0; d < t->nd; d++) e->shape[d] = t->shape[d];
    const uint8_t *src = ze->data + (size_t)t->off * es;
    if (contiguous || count == 0) {
      e->data = src;
    } else {
      uint8_t *c = malloc((size_t)count * es);
      if (!c) return hm_error(HM_ERR_NOMEM, "out of memory for tensor '%s'", b->names[i]);
      gather(c, src, t->shape, t->stride, t->nd, es);
      b->owned[i] = c;
      e->data = c;
    }
  }
  return HM_OK;
}

hm_status hm_torch_bin_parse(const uint8_t *data, size_t size, const char *name, hm_torch_bin **out) {
  *out = NULL;
  zent *z = NULL;
  int nz = 0;
  HM_TRY(zip_read(data, size, name, &z, &nz));
  const zent *pk = NULL;
  for (int i = 0; i < nz; i++) {
    const size_t l = z[i].name_len;
    if (l >= 8 && !memcmp(z[i].name + l - 8, "data.pkl", 8) && (l == 8 || z[i].name[l - 9] == '/')) { pk = &z[i]; break; }
  }
  if (!pk) {
    free(z);
    return hm_error(HM_ERR_FORMAT, "%s: no data.pkl in the zip: not a torch.save checkpoint", name);
  }
  const char *pre = pk->name;
  const size_t plen = pk->name_len - 8;
  const zent *bo = zip_find(z, nz, pre, plen, "byteorder", 9);
  if (bo && !(bo->size == 6 && !memcmp(bo->data, "little", 6))) {
    free(z);
    return hm_error(HM_ERR_UNSUPPORTED, "%s: big-endian checkpoints are not supported", name);
  }
  pm m = {.name = name, .p = pk->data, .n = pk->size};
  hm_torch_bin *b = calloc(1, sizeof *b);
  int root = -1;
  hm_status st = b ? run(&m, &root) : hm_error(HM_ERR_NOMEM, "out of memory");
  if (st == HM_OK) st = tensors(&m, root, z, nz, pre, plen, b);
  free_pm(&m);
  free(z);
  if (st != HM_OK) {
    hm_torch_bin_free(b);
    return st;
  }
  *out = b;
  return HM_OK;
}

hm_status hm_torch_bin_open(const char *path, hm_torch_bin **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return hm_error(HM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
    close(fd);
    return hm_error(HM_ERR_FORMAT, "'%s' is empty or unreadable", path);
  }
  void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return hm_error(HM_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
  hm_status st = hm_torch_bin_parse(map, (size_t)sb.st_size, path, out);
  if (st != HM_OK) {
    munmap(map, (size_t)sb.st_size);
    return st;
  }
  (*out)->map = map;
  (*out)->map_size = (size_t)sb.st_size;
  return HM_OK;
}

hm_status hm_torch_bin_convert(const char *in, const char *out, int *n_tensors, int64_t *n_bytes) {
  hm_torch_bin *b = NULL;
  HM_TRY(hm_torch_bin_open(in, &b));
  static const char *const meta[] = {"format", "pt", NULL};
  int64_t bytes = 0;
  for (int i = 0; i < b->n; i++) {
    int64_t c = 1;
    for (int d = 0; d < b->e[i].n_dims; d++) c *= b->e[i].shape[d];
    bytes += (int64_t)hm_dtype_bytes(b->e[i].dtype, c);
  }
  hm_status st = hm_st_write(out, b->e, b->n, meta);
  if (st == HM_OK) {
    if (n_tensors) *n_tensors = b->n;
    if (n_bytes) *n_bytes = bytes;
  }
  hm_torch_bin_free(b);
  return st;
}
