/* heartmula convert IN [-o OUT] [--overwrite]: a PyTorch checkpoint (torch.save's zip, e.g. the published
 * MuQ-MuLan's pytorch_model.bin) -> safetensors, once, with a reader that executes nothing and accepts
 * tensors only (src/io/torch_bin.h). */
#include "cli.h"
#include "io/fs.h"
#include "io/torch_bin.h"

#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula convert FILE.bin [-o OUT.safetensors] [--overwrite]\n"
    "\n"
    "  Converts a PyTorch state_dict saved by torch.save (a zip holding data.pkl; e.g. MuQ-MuLan-large's\n"
    "  pytorch_model.bin) into safetensors, tensor by tensor with the same names, dtypes and shapes.\n"
    "  Nothing in the file is executed: only tensors and plain data are accepted, anything else is an error.\n"
    "  -o, --output FILE   output (default: model.safetensors beside the input)\n"
    "  --overwrite         replace an existing output\n");
}

int cmd_convert(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  bool overwrite = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--output", "-o", &v)) out = v;
    else if (cli_flag(argv[i], "--overwrite", NULL)) overwrite = true;
    else if (argv[i][0] == '-') { fprintf(stderr, "heartmula convert: error: unknown option '%s'\n\n", argv[i]); usage(stderr); return 2; }
    else if (!in) in = argv[i];
    else { fprintf(stderr, "heartmula convert: error: one input file only ('%s' and '%s')\n", in, argv[i]); return 2; }
  }
  if (!in) { fprintf(stderr, "heartmula convert: error: an input file is required\n\n"); usage(stderr); return 2; }
  char def[4096];
  if (!out) {
    const char *slash = strrchr(in, '/');
    if (slash) snprintf(def, sizeof def, "%.*s/model.safetensors", (int)(slash - in), in);
    else snprintf(def, sizeof def, "model.safetensors");
    out = def;
  }
  if (!overwrite && hm_file_exists(out)) {
    fprintf(stderr, "heartmula convert: error: '%s' already exists (use --overwrite)\n", out);
    return 1;
  }
  int n = 0;
  int64_t bytes = 0;
  double t0 = hm_time_s();
  if (hm_torch_bin_convert(in, out, &n, &bytes) != HM_OK) return cli_fail("convert", NULL);
  printf("wrote %s: %d tensors, %.1f MB in %.1f s\n", out, n, (double)bytes / 1e6, hm_time_s() - t0);
  return 0;
}
