/* PyTorch checkpoints (torch.save's zip format: <root>/data.pkl, <root>/data/<key>, as the published
 * MuQ-MuLan's pytorch_model.bin) read without executing anything. The zip must be stored (not
 * compressed; torch never compresses); the pickle is interpreted by a restricted machine that knows
 * plain data (dicts, lists, tuples, strings, numbers, booleans, None) and exactly these callables:
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
 * typed storages torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage as
 * persistent ids. Any other global, opcode or structure is an error naming it and its byte offset.
 * The result must be a dict of names -> tensors (a state_dict); nothing else is accepted. */
#ifndef HM_IO_TORCH_BIN_H
#define HM_IO_TORCH_BIN_H
#include "io/safetensors.h"

typedef struct hm_torch_bin hm_torch_bin;

/* Parses bytes in memory (data must outlive the result: tensors point into it, except strided ones,
 * which are copied). name: how errors call the input. */
hm_status hm_torch_bin_parse(const uint8_t *data, size_t size, const char *name, hm_torch_bin **out);
/* mmaps path and parses it. */
hm_status hm_torch_bin_open(const char *path, hm_torch_bin **out);
void hm_torch_bin_free(hm_torch_bin *b);
/* The tensors in the pickle's order, as safetensors entries (C-contiguous data). */
int hm_torch_bin_count(const hm_torch_bin *b);
const hm_st_entry *hm_torch_bin_entries(const hm_torch_bin *b);
/* in (pytorch_model.bin) -> out (.safetensors, written to out.tmp and renamed), metadata format=pt. */
hm_status hm_torch_bin_convert(const char *in, const char *out, int *n_tensors, int64_t *n_bytes);
#endif
